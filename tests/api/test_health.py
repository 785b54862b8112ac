async def test_healthz_answers_once_the_app_is_ready(api):
    response = await api.http.get("/healthz")
    assert response.status_code == 200 and response.json() == {"status": "ok"}
