"""The raw baseline: a minimal Starlette endpoint with hand-written SQL on asyncpg that
answers the benchmark's two read queries (the public session page and Dashboard Future)
with byte-for-byte the JSON the GraphQL endpoint returns, and the join mutation with the
same writes the app makes. It is the limit a Python GraphQL layer is measured against: no
ORM, no GraphQL parsing, validation or resolvers.

It understands exactly the documents in tests/scale/pages.py and tests/documents.py's JOIN,
chosen by operationName. The join does, in one transaction, what the app's join does: the
session with its host and the viewer's registration and invitation, the conditional seat
UPDATE ... RETURNING, the registration INSERT, the last coalesced notice to the host, and
both emails as outbox rows in one INSERT, rendered by the same pure render functions (the
rows hold the same messages). It leaves out what is a safeguard rather than work: the
parse-back check of each message, and the live publish (nobody listens in the benchmark).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
from datetime import datetime, timezone

import asyncpg
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from app.api.pagination import encode_cursor, to_global_id
from app.api.scalars import serialize_datetime
from app.group_sessions import rules
from app.group_sessions.events import Person
from app.links import group_session_url
from app.main import tune_garbage_collector
from app.notifications import emails
from app.settings import Settings

VIEWER_SQL = """
SELECT u.id, m.program_id, m.role FROM access_token t JOIN "user" u ON u.id = t.user_id
LEFT JOIN membership m ON m.user_id = u.id WHERE t.token_hash = $1 AND t.revoked_at IS NULL
"""

SESSION_SQL = """
SELECT s.*, p.name AS program_name, h.name AS host_name, h.time_zone AS host_time_zone,
       EXISTS (SELECT 1 FROM registration r WHERE r.session_id = s.id AND r.user_id = $2) AS attending
FROM group_session s JOIN program p ON p.id = s.program_id JOIN "user" h ON h.id = s.host_id
WHERE s.id = $1
"""

GUESTS_SQL = """
SELECT u.id, u.name FROM guest g JOIN "user" u ON u.id = g.user_id WHERE g.session_id = $1 ORDER BY g.id
"""

PARTICIPANTS_SQL = """
SELECT r.id, r.session_id, r.user_id, r.is_host, r.registered_at, u.name FROM (
  SELECT id, session_id, user_id, is_host, registered_at,
         ROW_NUMBER() OVER (PARTITION BY session_id ORDER BY id) AS rn
  FROM registration WHERE session_id = ANY($1::int[])
) r JOIN "user" u ON u.id = r.user_id WHERE r.rn <= $2 ORDER BY r.session_id, r.id
"""

DASHBOARD_SQL = """
SELECT s.*, p.name AS program_name, h.name AS host_name
FROM registration r JOIN group_session s ON s.id = r.session_id
JOIN program p ON p.id = s.program_id JOIN "user" h ON h.id = s.host_id
WHERE r.user_id = $1 AND s.status = 'SCHEDULED' AND s.ends_at > $2
ORDER BY s.starts_at, s.id LIMIT $3
"""

JOIN_VIEWER_SQL = """
SELECT u.id, u.name, u.email, u.time_zone, m.program_id, m.role FROM access_token t JOIN "user" u ON u.id = t.user_id
LEFT JOIN membership m ON m.user_id = u.id WHERE t.token_hash = $1 AND t.revoked_at IS NULL
"""

JOIN_SESSION_SQL = """
SELECT s.*, h.name AS h_name, h.email AS h_email, h.time_zone AS h_time_zone,
       r.id AS r_id, g.id AS g_id, g.status AS g_status
FROM group_session s JOIN "user" h ON h.id = s.host_id
LEFT JOIN registration r ON r.session_id = s.id AND r.user_id = $2
LEFT JOIN guest g ON g.session_id = s.id AND g.user_id = $2
WHERE s.id = $1
"""

TAKE_SEAT_SQL = """
UPDATE group_session SET participant_count = participant_count + 1
WHERE id = $1 AND status = 'SCHEDULED' AND starts_at > $2 AND participant_count < max_participants
RETURNING *
"""

REGISTER_SQL = """
INSERT INTO registration (session_id, user_id, is_host, registered_at) VALUES ($1, $2, false, $3)
RETURNING id, registered_at
"""

ACCEPT_INVITATION_SQL = "UPDATE guest SET status = 'ACCEPTED', responded_at = $2 WHERE id = $1"

LATEST_NOTICE_SQL = """
SELECT id, kind, status, attempts, coalesce_until, coalesced FROM outbox_email
WHERE coalesce_key = $1 ORDER BY id DESC LIMIT 1
"""

OUTBOX_SQL = """
INSERT INTO outbox_email (message_id, kind, recipient, subject, message, status, attempts, next_attempt_at,
                          created_at, coalesce_key, coalesce_until, coalesced)
SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::int[],
                     $8::timestamptz[], $9::timestamptz[], $10::text[], $11::timestamptz[], $12::int[])
"""

DASHBOARD_COUNT_SQL = """
SELECT count(*) FROM registration r JOIN group_session s ON s.id = r.session_id
WHERE r.user_id = $1 AND s.status = 'SCHEDULED' AND s.ends_at > $2
"""


def _json(data: object) -> Response:
    # The app's bytes (it encodes UTF-8, not \u escapes), by the stdlib encoder as before.
    return Response(json.dumps(data, separators=(",", ":"), ensure_ascii=False), media_type="application/json")


def _error(message: str, code: str) -> Response:
    return _json({"data": None, "errors": [{"message": message, "extensions": {"code": code}}]})


def _bearer(request: Request) -> str | None:
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    return token.strip() or None if scheme.lower() == "bearer" else None


def _pk(global_id: str, type_name: str) -> int | None:
    from app.api.pagination import pk_of

    return pk_of(global_id, type_name)


def _counts(row) -> dict:
    count, most = row["participant_count"], row["max_participants"]
    return {"maxParticipants": most, "participantCount": count, "spotsLeft": max(most - count, 0), "isFull": count >= most}


def _reasons(row, *, is_member: bool, attending: bool, now: datetime) -> list[str]:
    return [
        code.value
        for code in rules.cannot_join_reasons(
            is_member=is_member,
            is_registered=attending,
            is_cancelled=row["status"] == "CANCELLED",
            starts_at=row["starts_at"],
            participant_count=row["participant_count"],
            max_participants=row["max_participants"],
            now=now,
        )
    ]


def _can_edit(row, viewer_id: int, now: datetime) -> bool:
    return viewer_id == row["host_id"] and row["status"] == "SCHEDULED" and row["ends_at"] > now


class _Counted:
    """A connection that counts the statements sent through it (for the benchmark table)."""

    def __init__(self, connection: asyncpg.Connection, owner: Baseline) -> None:
        self._connection = connection
        self._owner = owner

    async def fetch(self, *args):
        self._owner.statements += 1
        return await self._connection.fetch(*args)

    async def fetchrow(self, *args):
        self._owner.statements += 1
        return await self._connection.fetchrow(*args)

    async def fetchval(self, *args):
        self._owner.statements += 1
        return await self._connection.fetchval(*args)

    async def execute(self, *args):
        self._owner.statements += 1
        return await self._connection.execute(*args)

    def transaction(self):
        return self._connection.transaction()


class Baseline:
    def __init__(self, database_url: str, public_web_url: str, settings: Settings | None = None) -> None:
        settings = settings or Settings()
        self.database_url = database_url
        self.public_web_url = public_web_url.rstrip("/")
        self.pool: asyncpg.Pool | None = None
        self.statements = 0
        self.letterhead = emails.Letterhead(settings.mail_from)
        self.coalesce_window = settings.host_notice_coalesce_window

    async def _reset(self, connection: asyncpg.Connection) -> None:
        # The same light reset as the app's pool (app/db.py), to compare like with like.
        if connection.is_in_transaction():
            await connection.execute("ROLLBACK")

    async def start(self) -> None:
        self.pool = await asyncpg.create_pool(self.database_url, min_size=1, max_size=5, reset=self._reset)

    async def stop(self) -> None:
        if self.pool is not None:
            await self.pool.close()

    async def graphql(self, request: Request) -> Response:
        body = json.loads(await request.body())
        variables = body.get("variables") or {}
        token = _bearer(request)
        if body.get("operationName") == "Join":
            return await self.join(token, variables["id"])
        async with self.pool.acquire() as raw:
            conn = _Counted(raw, self)
            rows = await conn.fetch(VIEWER_SQL, hashlib.sha256(token.encode()).hexdigest()) if token else []
            if not rows:
                return _error("Sign in first: send 'Authorization: Bearer <token>'.", "UNAUTHENTICATED")
            viewer_id = rows[0]["id"]
            roles = {r["program_id"]: r["role"] for r in rows if r["program_id"] is not None}
            if body.get("operationName") == "PublicSessionPage":
                return _json({"data": {"groupSession": await self.session_page(conn, viewer_id, roles, variables["id"])}})
            if body.get("operationName") == "DashboardFuture":
                return _json({"data": {"dashboard": {"sessions": await self.dashboard(conn, viewer_id, variables["first"])}}})
        return _error("The baseline only answers PublicSessionPage and DashboardFuture.", "BAD_USER_INPUT")

    async def session_page(self, conn, viewer_id: int, roles: dict, global_id: str) -> dict | None:
        pk = _pk(global_id, "GroupSession")
        row = await conn.fetchrow(SESSION_SQL, pk, viewer_id) if pk else None
        if row is None or row["program_id"] not in roles:
            return None
        now = datetime.now(timezone.utc)
        gid = to_global_id("GroupSession", row["id"])
        attending = row["attending"]
        reasons = _reasons(row, is_member=True, attending=attending, now=now)
        is_host = viewer_id == row["host_id"]
        guests = (
            [{"id": to_global_id("User", g["id"]), "name": g["name"]} for g in await conn.fetch(GUESTS_SQL, row["id"])]
            if is_host
            else []
        )
        participants = await conn.fetch(PARTICIPANTS_SQL, [row["id"]], 51)
        edges = [
            {
                "cursor": encode_cursor(p["id"]),
                "node": {
                    "id": to_global_id("Registration", p["id"]),
                    "isHost": p["is_host"],
                    "registeredAt": serialize_datetime(p["registered_at"]),
                    "participant": {"id": to_global_id("User", p["user_id"]), "name": p["name"]},
                },
            }
            for p in participants[:50]
        ]
        return {
            "id": gid,
            "title": row["title"],
            "objective": row["objective"],
            "startsAt": serialize_datetime(row["starts_at"]),
            "endsAt": serialize_datetime(row["ends_at"]),
            "durationMinutes": row["duration_minutes"],
            "minParticipants": row["min_participants"],
            **_counts(row),
            "status": row["status"],
            "cancellationReason": row["cancellation_reason"],
            "url": f"{self.public_web_url}/group-sessions/{gid}",
            "viewerIsHost": is_host,
            "viewerIsAttending": attending,
            "viewerCanJoin": not reasons,
            "viewerCannotJoinReasons": reasons,
            "viewerCanEdit": _can_edit(row, viewer_id, now),
            "program": {
                "id": to_global_id("Program", row["program_id"]),
                "name": row["program_name"],
                "viewerRole": roles.get(row["program_id"]),
            },
            "host": {"id": to_global_id("User", row["host_id"]), "name": row["host_name"], "timeZone": row["host_time_zone"]},
            "guests": guests,
            "participants": {
                "totalCount": row["participant_count"],
                "pageInfo": {"hasNextPage": len(participants) > 50, "endCursor": edges[-1]["cursor"] if edges else None},
                "edges": edges,
            },
        }

    async def dashboard(self, conn, viewer_id: int, first: int) -> dict:
        now = datetime.now(timezone.utc)
        rows = await conn.fetch(DASHBOARD_SQL, viewer_id, now, first + 1)
        total = await conn.fetchval(DASHBOARD_COUNT_SQL, viewer_id, now)
        page = rows[:first]
        participants = await conn.fetch(PARTICIPANTS_SQL, [r["id"] for r in page], 51)
        by_session: dict[int, list] = {}
        for p in participants:
            by_session.setdefault(p["session_id"], []).append(p)
        edges = []
        for row in page:
            reasons = _reasons(row, is_member=True, attending=True, now=now)
            cursor = encode_cursor(serialize_datetime(row["starts_at"]), row["id"])
            edges.append(
                {
                    "cursor": cursor,
                    "node": {
                        "id": to_global_id("GroupSession", row["id"]),
                        "title": row["title"],
                        "startsAt": serialize_datetime(row["starts_at"]),
                        "endsAt": serialize_datetime(row["ends_at"]),
                        "durationMinutes": row["duration_minutes"],
                        "participantCount": row["participant_count"],
                        "maxParticipants": row["max_participants"],
                        "spotsLeft": max(row["max_participants"] - row["participant_count"], 0),
                        "isFull": row["participant_count"] >= row["max_participants"],
                        "status": row["status"],
                        "viewerIsHost": viewer_id == row["host_id"],
                        "viewerIsAttending": True,
                        "viewerCanJoin": not reasons,
                        "viewerCanEdit": _can_edit(row, viewer_id, now),
                        "host": {"id": to_global_id("User", row["host_id"]), "name": row["host_name"]},
                        "program": {"id": to_global_id("Program", row["program_id"]), "name": row["program_name"]},
                        "participants": {
                            "totalCount": row["participant_count"],
                            "edges": [
                                {
                                    "node": {
                                        "id": to_global_id("Registration", p["id"]),
                                        "isHost": p["is_host"],
                                        "participant": {"id": to_global_id("User", p["user_id"]), "name": p["name"]},
                                    }
                                }
                                for p in by_session.get(row["id"], [])[:50]
                            ],
                        },
                    },
                }
            )
        return {
            "totalCount": total,
            "pageInfo": {"hasNextPage": len(rows) > first, "endCursor": edges[-1]["cursor"] if edges else None},
            "edges": edges,
        }


    async def join(self, token: str | None, global_id: str) -> Response:
        """The join: what app.group_sessions.services.join_group_session writes, in one
        transaction, answered in the shape of tests/documents.py's JOIN."""
        async with self.pool.acquire() as raw:
            conn = _Counted(raw, self)
            rows = await conn.fetch(JOIN_VIEWER_SQL, hashlib.sha256(token.encode()).hexdigest()) if token else []
            if not rows:
                return _error("Sign in first: send 'Authorization: Bearer <token>'.", "UNAUTHENTICATED")
            viewer = Person(rows[0]["id"], rows[0]["name"], rows[0]["email"], rows[0]["time_zone"])
            roles = {r["program_id"] for r in rows if r["program_id"] is not None}
            pk = _pk(global_id, "GroupSession")
            now = datetime.now(timezone.utc)
            async with conn.transaction():
                found = await conn.fetchrow(JOIN_SESSION_SQL, pk, viewer.id) if pk else None
                if found is None or found["program_id"] not in roles:
                    return _join_refused("NOT_FOUND", "No such group session.")
                refusal = _reasons(found, is_member=True, attending=found["r_id"] is not None, now=now)
                session = None if refusal else await conn.fetchrow(TAKE_SEAT_SQL, pk, now)
                if session is None:
                    code = (refusal or ["SESSION_FULL"])[0]
                    return _join_refused(code, rules.JOIN_REFUSAL_MESSAGES[rules.ErrorCode(code)])
                registration = await conn.fetchrow(REGISTER_SQL, pk, viewer.id, now)
                if found["g_id"] is not None and found["g_status"] != "ACCEPTED":
                    await conn.execute(ACCEPT_INVITATION_SQL, found["g_id"], now)
                host = Person(session["host_id"], found["h_name"], found["h_email"], found["h_time_zone"])
                await self._outbox(conn, session, host, viewer, now)
        gid = to_global_id("GroupSession", session["id"])
        reasons = _reasons(session, is_member=True, attending=True, now=now)
        return _json({"data": {"joinGroupSession": {
            "registration": {
                "id": to_global_id("Registration", registration["id"]),
                "isHost": False,
                "participant": {"name": viewer.name},
                "session": {"id": gid},
            },
            "groupSession": {
                "id": gid,
                **{k: v for k, v in _counts(session).items() if k != "maxParticipants"},
                "viewerIsAttending": True,
                "viewerCanJoin": not reasons,
                "viewerCannotJoinReasons": reasons,
            },
            "userErrors": [],
        }}})

    async def _outbox(self, conn, session, host: Person, participant: Person, now: datetime) -> None:
        """Both emails of a join as outbox rows, in one INSERT: the participant's
        confirmation and the host's notice (coalesced as app.notifications.outbox does;
        the benchmark's joins are each a first notice)."""
        facts = emails.SessionFacts(
            id=session["id"], title=session["title"], objective=session["objective"],
            starts_at=session["starts_at"], ends_at=session["ends_at"],
            participant_count=session["participant_count"], max_participants=session["max_participants"],
            sequence=session["sequence"], cancelled=False,
            url=group_session_url(self.public_web_url, session["id"]), host=host,
        )
        key = f"host-notice:{session['id']}:{participant.id}"
        latest = await conn.fetchrow(LATEST_NOTICE_SQL, key)
        if latest is not None and now < latest["coalesce_until"]:
            raise NotImplementedError("the baseline writes first notices only (each benchmark join is a new pair)")
        notice = emails.registration_added(facts, participant, letterhead=self.letterhead, written_at=now)
        confirmation = emails.registration_confirmed(facts, participant, letterhead=self.letterhead, written_at=now)
        queued = [(notice, key, now + self.coalesce_window), (confirmation, None, None)]
        due = datetime.now(timezone.utc)  # as the app's enqueue: due when queued
        await conn.execute(
            OUTBOX_SQL,
            [e.message_id for e, _, _ in queued], [e.kind for e, _, _ in queued], [e.recipient for e, _, _ in queued],
            [e.subject[:500] for e, _, _ in queued], [e.message for e, _, _ in queued], ["PENDING"] * 2, [0, 0],
            [due, due], [due, due], [k for _, k, _ in queued], [u for _, _, u in queued], [1, 1],
        )


def _join_refused(code: str, message: str) -> Response:
    return _json({"data": {"joinGroupSession": {
        "registration": None, "groupSession": None,
        "userErrors": [{"field": ["input", "id"], "message": message, "code": code}],
    }}})


def create_baseline_app(database_url: str, public_web_url: str, settings: Settings | None = None) -> Starlette:
    baseline = Baseline(database_url, public_web_url, settings)

    @contextlib.asynccontextmanager
    async def lifespan(app):
        await baseline.start()
        try:
            yield
        finally:
            await baseline.stop()

    app = Starlette(routes=[Route("/graphql", baseline.graphql, methods=["POST"])], lifespan=lifespan)
    app.state.baseline = baseline
    return app


def app_from_env() -> Starlette:
    """uvicorn factory: BASELINE_DATABASE_URL and PUBLIC_WEB_URL from the environment."""
    import os

    app = create_baseline_app(os.environ["BASELINE_DATABASE_URL"], os.environ["PUBLIC_WEB_URL"])
    # The app's serving process tunes its garbage collector: so does the baseline's, so
    # that the comparison is of the request paths, not of process settings.
    tune_garbage_collector()
    return app
