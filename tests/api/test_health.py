async def test_healthz_answers_once_the_app_is_ready(api):
    response = await api.http.get("/healthz")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ok"
    assert body["live"] == {"broker": "memory", "connected": True, "subscriptions": 0}
