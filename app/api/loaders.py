"""Per-operation DataLoaders: every field that resolves related data goes through one,
so a page of N sessions costs a fixed handful of statements, not N of them.

Loaders only load, batch and remember what a list query already fetched; who may see
what is decided in `app.api.visibility`, which calls them. A `Loaders` lives for one
operation (see `extensions.FreshLoaders`), or one execution of a live event: a WebSocket
keeps its context for hours, and loaders kept that long would serve stale rows. A live
event's executions read each viewer's own rows together (`EventReads`).
"""

from __future__ import annotations

import asyncio
import weakref
from collections import defaultdict
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any

from strawberry.dataloader import DataLoader, DefaultCache
from strawberry.exceptions import WrongNumberOfResultsReturned

from app.accounts.models import Program, ProgramRole, User
from app.accounts.services import program_roles
from app.group_sessions import read_model
from app.group_sessions.models import GroupSession, Guest, Registration, RegistrationStatus
from app.keyset import Window


# Resolvers answer synchronously when the loaders hold the data already (the usual case:
# list queries fetch program, host and participants along) and return an awaitable
# otherwise; graphql-core accepts both, and plain values cost it far less.

MISSING = object()  # "not known without asking the database"


class _Batch:
    """The keys a `SharedLoader` collected for one call of its batch function."""

    __slots__ = ("keys", "futures", "dispatched", "task")

    def __init__(self) -> None:
        self.keys: list[Any] = []
        self.futures: list[asyncio.Future] = []  # the cached future of each key
        self.dispatched = False
        self.task: asyncio.Task | None = None


class _KeyCache(DefaultCache):
    """DataLoader's default cache (keyed by the keys themselves), whose `get` and `set`
    are its dict's own: no Python call per lookup."""

    def __init__(self) -> None:
        super().__init__()
        self.get = self.cache_map.get
        self.set = self.cache_map.__setitem__


class SharedLoader(DataLoader):
    """A DataLoader whose futures no single field can cancel. Every field that loads a key
    awaits the same cached row; graphql-core cancels the awaitables of sibling fields when
    one fails in a non-null position, and cancelling a task that awaits a future cancels
    the future itself: the next field loading that key (in this operation, or in its
    rerun) would then fail with CancelledError instead of getting its row. Each `load` of
    a pending key hands out a future of its own (a "waiter"; a done future as it is),
    which the batch settles together with the cached one.

    What `asyncio.shield` of the cached future would give, with less machinery per key:
    the batch sets each waiter's outcome itself, where a shield waits a loop turn for the
    cached future's callback; and the batch runs as DataLoader's does (the keys loaded
    before its task starts, two loop turns after the first; the same batch function, the
    same outcomes per key, priming settles a key still waiting), without the per-key
    bookkeeping it keeps to stop a batch whose futures were all cancelled (nobody can
    cancel these). Always caches (`cache=False` is not supported)."""

    _batch: _Batch | None = None

    def __init__(self, load_fn: Callable, **kwargs: Any) -> None:
        if kwargs.get("cache_map") is None and kwargs.get("cache_key_fn") is None:
            kwargs["cache_map"] = _KeyCache()
        super().__init__(load_fn, **kwargs)
        assert self.cache, "SharedLoader always caches"
        # cached future still pending -> the waiters handed out for it
        self._waiters: dict[asyncio.Future, list[asyncio.Future]] = {}

    def load(self, key):  # noqa: ANN001, ANN201
        future = self.cache_map.get(key)
        if future is not None and not future.cancelled():
            if future.done():
                return future
            waiters = self._waiters.get(future)
            if waiters is None:  # pending, and not this loader's own: shielded as before
                return asyncio.shield(future)
            waiter = self.loop.create_future()
            waiters.append(waiter)
            return waiter
        loop = self.loop
        future = loop.create_future()
        self.cache_map.set(key, future)
        batch = self._batch
        if batch is None or batch.dispatched or (self.max_batch_size and len(batch.keys) >= self.max_batch_size):
            batch = self._batch = _Batch()
            loop.call_soon(self._start, batch)
        batch.keys.append(key)
        batch.futures.append(future)
        waiter = loop.create_future()
        self._waiters[future] = [waiter]
        return waiter

    def _start(self, batch: _Batch) -> None:
        # A loop turn after the first key, as DataLoader's dispatch: its task starts one
        # turn later still, and keys loaded until then join the batch.
        batch.task = self.loop.create_task(self._dispatch(batch))

    async def _dispatch(self, batch: _Batch) -> None:
        batch.dispatched = True
        keys, futures = batch.keys, batch.futures
        if not keys or all(future.cancelled() for future in futures):
            return
        try:
            values = list(await self.load_fn(keys))
            if len(values) != len(keys):
                raise WrongNumberOfResultsReturned(expected=len(keys), received=len(values))  # noqa: TRY301
        except Exception as error:  # noqa: BLE001 - every key's outcome
            for future in futures:
                self._settle(future, error, failed=True)
            return
        for future, value in zip(futures, values, strict=True):
            self._settle(future, value, failed=isinstance(value, BaseException))

    def _settle(self, future: asyncio.Future, value: Any, *, failed: bool) -> None:
        """Set the outcome of a cached future and of its waiters (those still waiting)."""
        waiters = self._waiters.pop(future, ())
        if not future.done():
            if failed:
                future.set_exception(value)
                future.exception()  # seen here: its waiters carry it on (as a shield's callback)
            else:
                future.set_result(value)
        for waiter in waiters:
            if not waiter.done():
                if failed:
                    waiter.set_exception(value)
                else:
                    waiter.set_result(value)

    def prime(self, key, value, force: bool = False) -> None:  # noqa: ANN001
        # `prime_many` for one key, without the dict (list queries prime every row).
        self._cache(key, value, force)
        batch = self._batch
        if batch is not None and not batch.dispatched:
            self._settle_primed(batch, {key: value})

    def prime_many(self, data: Mapping, force: bool = False) -> None:
        for key, value in data.items():
            self._cache(key, value, force)
        batch = self._batch
        if batch is not None and not batch.dispatched:
            self._settle_primed(batch, data)

    def _cache(self, key, value, force: bool) -> None:  # noqa: ANN001
        """Keep `value` as the answer for `key` (over one already kept only with `force`)."""
        cache_map = self.cache_map
        if force or cache_map.get(key) is None:
            future = self.loop.create_future()
            future.set_result(value)
            cache_map.set(key, future)

    def _settle_primed(self, batch: _Batch, data: Mapping) -> None:
        """Keys of the batch not dispatched yet that are primed now: settled with their
        value, and left out of the batch (as DataLoader's `prime_many` does)."""
        settled = False
        for key, future in zip(batch.keys, batch.futures, strict=True):
            if key in data:
                settled = True
                self._settle(future, data[key], failed=False)
        if settled:
            kept = [(key, future) for key, future in zip(batch.keys, batch.futures, strict=True) if not future.done()]
            batch.keys = [key for key, _ in kept]
            batch.futures = [future for _, future in kept]


def loaded(loader: DataLoader, key):
    """The value `loader` already holds for `key`, or `MISSING`."""
    future = loader.cache_map.get(key)
    if future is not None and future.done() and not future.cancelled() and future.exception() is None:
        return future.result()
    return MISSING


def now_or_later(loader: DataLoader, key, convert: Callable):
    """`convert(value)` at once when the loader holds the value, else an awaitable of it."""
    value = loaded(loader, key)
    if value is not MISSING:
        return convert(value)
    return converted(loader.load(key), convert)


async def converted(awaitable: Awaitable, convert: Callable):
    """`convert` applied to what `awaitable` gives."""
    return convert(await awaitable)


def _by_id(model):
    async def load(ids: Sequence[int]):
        rows = {row.id: row for row in await model.filter(id__in=list(set(ids)))}
        return [rows.get(i) for i in ids]

    return load


# Viewers' own rows in one session: at most this many viewers per statement (SQLite before
# 3.32 takes 999 parameters per statement; PostgreSQL does not mind).
VIEWERS_PER_STATEMENT = 900


def _by_session_and_user(model):
    """Rows of `model` by (session_id, user_id): one statement per session of the batch."""

    async def load(keys: Sequence[tuple[int, int]]):
        users_by_session: dict[int, set[int]] = defaultdict(set)
        for session_id, user_id in keys:
            users_by_session[session_id].add(user_id)
        found = {}
        for session_id, user_ids in users_by_session.items():
            ordered = sorted(user_ids)
            for start in range(0, len(ordered), VIEWERS_PER_STATEMENT):
                chunk = ordered[start:start + VIEWERS_PER_STATEMENT]
                for row in await model.filter(session_id=session_id, user_id__in=chunk):
                    found[(row.session_id, row.user_id)] = row
        return [found.get(key) for key in keys]

    return load


class EventReads:
    """What every local subscriber of one live event reads for themself, loaded for all of
    them at once: each viewer's own registration and guest row, keyed (session_id, user_id).

    A thousand members watching one session each see their own viewerIsAttending: with
    loaders of their own, that is a thousand statements per event. Their loaders delegate
    here instead (`ViewerRows`): the executions an event starts in one turn of the event
    loop share one statement, and rows loaded beforehand (`load_registrations`, for every
    subscriber of the channel) are known to each execution without waiting at all. One
    instance per message and process: rows read after the commit, never kept for the next
    message.
    """

    __slots__ = ("registrations", "guests", "read")

    def __init__(self) -> None:
        self.registrations: DataLoader[tuple[int, int], Registration | None] = DataLoader(
            _by_session_and_user(Registration)
        )
        self.guests: DataLoader[tuple[int, int], Guest | None] = DataLoader(_by_session_and_user(Guest))
        # Rows read up front (`load_registrations`), by loader name then (session_id, user_id):
        # plain values, not a primed future each. A thousand futures per event outlive the
        # young garbage collections and pile up for the next full one, which then stops
        # every socket of the process for a few hundred milliseconds (measured). A viewer's
        # loader makes a future of its row only if its execution asks for it (`ViewerRows`).
        self.read: dict[str, dict[tuple[int, int], Any]] = {"registrations": {}, "guests": {}}

    async def load_registrations(self, session_id: int, user_ids: Sequence[int]) -> None:
        """Read the registrations of these viewers for the session (one statement per
        `VIEWERS_PER_STATEMENT` of them), kept as rows read up front (see `read`): not through
        `load_many`, which would make a thousand futures and gather them. A failure is not
        raised here: each execution that needs a row then loads it through the shared
        loader (one statement for all of them), and gets its error if that fails too."""
        keys = [(session_id, user_id) for user_id in user_ids]
        try:
            rows = await self.registrations.load_fn(keys)
        except Exception:  # noqa: BLE001 - reported by the executions that read the rows
            return
        self.read["registrations"].update(zip(keys, rows, strict=True))

    def known_registration(self, session_id: int, user_id: int):
        """The user's registration for the session (None: none) when read already, without
        asking the database; else `MISSING`."""
        key = (session_id, user_id)
        row = self.read["registrations"].get(key, MISSING)
        return row if row is not MISSING else loaded(self.registrations, key)

    def known_status(self, session: GroupSession, user_id: int):
        """The status of the user's registration for `session` (None: none), when known
        without the database: what a fresh `Loaders` of this event knows
        (`Loaders.known_viewer_status`); else `MISSING`."""
        if user_id == session.host_id:
            return RegistrationStatus.CONFIRMED
        registration = self.known_registration(session.id, user_id)
        if registration is MISSING or registration is None:
            return registration
        return RegistrationStatus(registration.status)


class _ViewerCache(DefaultCache):
    """A viewer's view of a shared loader's cache: what this execution primed, else what the
    event's shared loader holds for (key, viewer)."""

    def __init__(self, shared: DataLoader, viewer_id: int, read: Mapping[tuple[int, int], Any]) -> None:
        super().__init__()
        self._shared_map = shared.cache_map
        self._viewer_id = viewer_id
        self._read = read

    def get(self, key):  # noqa: ANN001, ANN201
        found = self.cache_map.get(key)
        if found is not None:
            return found
        row = self._read.get((key, self._viewer_id), MISSING)
        if row is MISSING:
            return self._shared_map.get((key, self._viewer_id))
        # Read up front: a done future of it, made now that this viewer asks (see EventReads.read).
        found = self.cache_map[key] = asyncio.get_running_loop().create_future()
        found.set_result(row)
        return found


class ViewerRows(DataLoader):
    """One viewer's rows of an `EventReads` loader, by session id: a loader like the others
    (`load`, `prime`, `loaded`), whose loads join the event's shared batch and which knows
    at once what that batch loaded already. Like `SharedLoader`, it hands out shields: a
    field that is cancelled cannot cancel the row for the other fields, nor for the other
    subscribers. Priming stays this viewer's own."""

    def __init__(self, shared: DataLoader, viewer_id: int, read: Mapping[tuple[int, int], Any]) -> None:
        """`read`: the event's rows read up front for this loader (`EventReads.read`)."""
        super().__init__(self._never, cache_map=_ViewerCache(shared, viewer_id, read))
        self._shared, self._viewer_id = shared, viewer_id

    def load(self, key):  # noqa: ANN001, ANN201
        future = self.cache_map.get(key)
        if future is None or future.cancelled():
            future = self._shared.load((key, self._viewer_id))
        return asyncio.shield(future)

    @staticmethod
    async def _never(keys):  # noqa: ANN001, ANN205 - loads go to the shared loader
        raise AssertionError("ViewerRows loads through its shared loader")


class Loaders:
    """The DataLoaders of one operation, for one viewer (or none).

    Each DataLoader is made when first used: a subscription's idle socket keeps a `Loaders`
    for hours, and most operations use a few of them only.
    """

    def __init__(
        self,
        viewer: User | None,
        viewer_roles: Mapping[int, ProgramRole] | None = None,
        event_reads: EventReads | None = None,
    ) -> None:
        """`viewer_roles`, when the caller has them (loaded with the token), saves a statement.
        `event_reads`, for the execution of a live event: the viewer's own rows are read
        with every other subscriber's (see `EventReads`)."""
        self.viewer = viewer
        self._event_reads = event_reads
        # Sessions where the status of the viewer's registration (None: none) is known
        # without asking the database (listed on their dashboard, which only lists
        # sessions they are registered for; loaded by ID, which reads it along).
        self._known_status: dict[int, RegistrationStatus | None] = {}
        # Read only (never changed in place), so the caller's mapping is kept as it is.
        self._viewer_roles: Mapping[int, ProgramRole] | None = viewer_roles
        self._viewer_roles_loading: asyncio.Future[dict[int, ProgramRole]] | None = None
        # loader name -> {key: value} to prime it with when it is made (see `prime_when_made`).
        self._primes: dict[str, dict] | None = None

    # The DataLoaders, made on first use (see `__getattr__`).
    user_by_id: DataLoader[int, User | None]
    program_by_id: DataLoader[int, Program | None]
    session_by_id: DataLoader[int, GroupSession | None]
    registration_by_id: DataLoader[int, Registration | None]
    guest_ids_by_session: DataLoader[int, list[int]]
    viewer_registration_by_session: DataLoader[int, Registration | None]
    participants_by_session: DataLoader[tuple[int, Window[int]], list[read_model.RegistrationRow]]
    guest_users_by_session: DataLoader[int, list[User]]
    # Guest rows (with their answers and users) of a session; the viewer's own guest row.
    guests_by_session: DataLoader[int, list[Guest]]
    viewer_guest_by_session: DataLoader[int, Guest | None]

    def __getattr__(self, name: str) -> DataLoader:
        # Only called for attributes not set yet: the loaders, on first use.
        make = _LOADERS.get(name)
        if make is None:
            raise AttributeError(name)
        loader = make(self)
        setattr(self, name, loader)
        primes = self._primes.pop(name, None) if self._primes else None
        if primes:
            loader.prime_many(primes)
        return loader

    def prime_when_made(self, name: str, key: Any, value: Any) -> None:
        """Prime the loader `name` with key -> value, as `prime` does, but only once that
        loader is made (at once if it is already): a live event primes each execution's
        loaders with the rows it carries, and most of them are never asked for."""
        if name in self.__dict__:
            getattr(self, name).prime(key, value)
            return
        if self._primes is None:
            self._primes = {}
        self._primes.setdefault(name, {})[key] = value

    def _make_user_by_id(self) -> DataLoader:
        loader = SharedLoader(_by_id(User))
        if self.viewer is not None:
            loader.prime(self.viewer.id, self.viewer)
        return loader

    def _make_viewer_rows(self, shared: str, load: Callable) -> DataLoader:
        if self._event_reads is not None and self.viewer is not None:
            reads = self._event_reads
            return ViewerRows(getattr(reads, shared), self.viewer.id, reads.read[shared])
        return SharedLoader(load)

    def prime_sessions(self, rows: Sequence[GroupSession], *, viewer_attends: bool | None = None) -> None:
        """Rows a list query already returned need not be loaded again by ID, nor their
        program and host when the query fetched them along (select_related)."""
        for row in rows:
            self.session_by_id.prime(row.id, row)
            self._prime_related(row)
            if viewer_attends is not None:
                self._known_status[row.id] = RegistrationStatus.CONFIRMED if viewer_attends else None

    def _prime_related(self, row: GroupSession) -> None:
        program = getattr(row, "_program", None)
        host = getattr(row, "_host", None)
        if isinstance(program, Program):
            self.program_by_id.prime(program.id, program)
        if isinstance(host, User):
            self.user_by_id.prime(host.id, host)

    async def viewer_roles(self) -> dict[int, ProgramRole]:
        """The viewer's programs and roles: given with the token, or loaded once per
        operation (one statement, shared by every resolver that asks meanwhile)."""
        if self._viewer_roles is None:
            if self._viewer_roles_loading is None:
                self._viewer_roles_loading = asyncio.ensure_future(self._load_viewer_roles())
            self._viewer_roles = await asyncio.shield(self._viewer_roles_loading)
        return self._viewer_roles

    async def _load_viewer_roles(self) -> dict[int, ProgramRole]:
        if self.viewer is None:
            return {}
        return await program_roles(self.viewer.id)

    def known_viewer_role(self, program_id: int):
        """The viewer's role in the program when the roles are loaded already (a role or
        None), else `MISSING`."""
        if self._viewer_roles is None:
            return None if self.viewer is None else MISSING
        return self._viewer_roles.get(program_id)

    def known_viewer_status(self, session: GroupSession):
        """The status of the viewer's registration for `session` (None when they have
        none), when that is known without the database; else `MISSING`."""
        if self.viewer is None:
            return None
        if self.viewer.id == session.host_id:
            return RegistrationStatus.CONFIRMED
        # A mutation primes the registration loader with what it just did: that wins.
        loader = self.__dict__.get("viewer_registration_by_session")  # not made just to look...
        if loader is not None:
            registration = loaded(loader, session.id)
        elif self._event_reads is not None:
            # ...but the event's reads may know: what this viewer's `ViewerRows` would find
            # (it holds nothing of its own before it is made), without making one.
            status = self._event_reads.known_status(session, self.viewer.id)
            return status if status is not MISSING else self._known_status.get(session.id, MISSING)
        else:
            registration = MISSING
        if registration is not MISSING:
            return None if registration is None else RegistrationStatus(registration.status)
        return self._known_status.get(session.id, MISSING)

    def known_viewer_attends(self, session: GroupSession):
        """Whether the viewer is registered (CONFIRMED: not merely on the waitlist), when
        that is known without the database; else `MISSING`."""
        status = self.known_viewer_status(session)
        return MISSING if status is MISSING else status == RegistrationStatus.CONFIRMED

    async def viewer_status(self, session: GroupSession) -> RegistrationStatus | None:
        """The status of the viewer's registration for `session` (None: none), asking the
        database only when it is not known already."""
        known = self.known_viewer_status(session)
        if known is not MISSING:
            return known
        registration = await self.viewer_registration_by_session.load(session.id)
        return None if registration is None else RegistrationStatus(registration.status)

    async def viewer_attends(self, session: GroupSession) -> bool:
        """Whether the viewer is registered for `session` (CONFIRMED), asking the database
        only when it is not known already (the host always is; dashboard rows always are)."""
        return await self.viewer_status(session) == RegistrationStatus.CONFIRMED

    async def viewer_role(self, program_id: int) -> ProgramRole | None:
        """The viewer's role in the program; None when they are not a member."""
        return (await self.viewer_roles()).get(program_id)

    async def user_in_programs(self, user_id: int, program_ids: Sequence[int]) -> User | None:
        """The user if they belong to one of `program_ids` (one statement, which checks and
        loads at once)."""
        user = await User.filter(id=user_id, memberships__program_id__in=list(program_ids)).first()
        if user is not None:
            self.user_by_id.prime(user.id, user)
        return user

    async def _sessions(self, ids: Sequence[int]) -> list[GroupSession | None]:
        # Program, host and the viewer's registration come along in the same statement:
        # every page of a session shows them.
        found = await read_model.sessions_by_ids(sorted(set(ids)), self.viewer.id if self.viewer else None)
        for row, viewer_status in found.values():
            self._prime_related(row)
            if self.viewer is not None:
                self._known_status.setdefault(row.id, viewer_status)
        return [found[i][0] if i in found else None for i in ids]

    async def _guest_users(self, session_ids: Sequence[int]) -> list[list[User]]:
        grouped: dict[int, list[User]] = defaultdict(list)
        for guest in await Guest.filter(session_id__in=list(set(session_ids))).select_related("user").order_by("id"):
            self.user_by_id.prime(guest.user.id, guest.user)
            grouped[guest.session_id].append(guest.user)
        return [grouped.get(sid, []) for sid in session_ids]

    async def _guests(self, session_ids: Sequence[int]) -> list[list[Guest]]:
        grouped: dict[int, list[Guest]] = defaultdict(list)
        for guest in await Guest.filter(session_id__in=list(set(session_ids))).select_related("user").order_by("id"):
            self.user_by_id.prime(guest.user.id, guest.user)
            grouped[guest.session_id].append(guest)
        return [grouped.get(sid, []) for sid in session_ids]

    async def _viewer_guests(self, session_ids: Sequence[int]) -> list[Guest | None]:
        if self.viewer is None:
            return [None] * len(session_ids)
        rows = {
            row.session_id: row
            for row in await Guest.filter(user_id=self.viewer.id, session_id__in=list(set(session_ids)))
        }
        return [rows.get(sid) for sid in session_ids]

    async def _guest_ids(self, session_ids: Sequence[int]) -> list[list[int]]:
        grouped: dict[int, list[int]] = defaultdict(list)
        for session_id, user_id in await Guest.filter(session_id__in=list(set(session_ids))).order_by("id").values_list(
            "session_id", "user_id"
        ):
            grouped[session_id].append(user_id)
        return [grouped.get(sid, []) for sid in session_ids]

    async def _viewer_registrations(self, session_ids: Sequence[int]) -> list[Registration | None]:
        if self.viewer is None:
            return [None] * len(session_ids)
        rows = {
            row.session_id: row
            for row in await Registration.filter(user_id=self.viewer.id, session_id__in=list(set(session_ids)))
        }
        return [rows.get(sid) for sid in session_ids]

    async def _participants(
        self, keys: Sequence[tuple[int, Window[int]]]
    ) -> list[list[read_model.RegistrationRow]]:
        # Keys are (session_id, window); one statement per distinct window, which in
        # practice is one statement.
        by_window: dict[Window[int], list[int]] = defaultdict(list)
        for session_id, window in keys:
            by_window[window].append(session_id)
        pages: dict[tuple[int, Window[int]], list[read_model.RegistrationRow]] = {}
        for window, session_ids in by_window.items():
            # Each row holds its participant (fetched along, in the same statement), which
            # Registration.participant reads from it: no loader needs priming with them.
            found = await read_model.participants_of_sessions(sorted(set(session_ids)), window=window)
            for session_id in session_ids:
                pages[(session_id, window)] = found[session_id]
        return [pages[key] for key in keys]


def _weakly(batch: Callable[[Sequence[Any]], Awaitable[list]]) -> Callable[[Sequence[Any]], Awaitable[list]]:
    """`batch`, a bound method of a `Loaders`, as a batch function that holds its `Loaders`
    weakly. A DataLoader given the bound method itself would close a reference cycle
    (Loaders -> its DataLoader -> the method -> Loaders), and a cycle outlives its
    operation until the garbage collector finds it, holding every row, future and object
    the operation's loaders made: measured, the whole cyclic garbage of a read request (a
    Dashboard page left ~1,600 objects per request to the collector, whose passes over
    them cost more CPU than some whole requests). Held weakly, the operation's objects go
    as soon as the operation does."""
    method = weakref.WeakMethod(batch)
    name = batch.__name__

    async def load(keys: Sequence[Any]) -> list:
        bound = method()
        if bound is None:  # only a batch dispatched after its operation ended gets here
            raise RuntimeError(f"The operation whose loader asked for {name} has ended.")
        return await bound(keys)

    return load


_LOADERS: dict[str, Callable[[Loaders], DataLoader]] = {
    "user_by_id": Loaders._make_user_by_id,
    "program_by_id": lambda loaders: SharedLoader(_by_id(Program)),
    "session_by_id": lambda loaders: SharedLoader(_weakly(loaders._sessions)),
    "registration_by_id": lambda loaders: SharedLoader(_by_id(Registration)),
    "guest_ids_by_session": lambda loaders: SharedLoader(_weakly(loaders._guest_ids)),
    "viewer_registration_by_session": lambda loaders: loaders._make_viewer_rows(
        "registrations", _weakly(loaders._viewer_registrations)
    ),
    "participants_by_session": lambda loaders: SharedLoader(_weakly(loaders._participants)),
    "guest_users_by_session": lambda loaders: SharedLoader(_weakly(loaders._guest_users)),
    "guests_by_session": lambda loaders: SharedLoader(_weakly(loaders._guests)),
    "viewer_guest_by_session": lambda loaders: loaders._make_viewer_rows("guests", _weakly(loaders._viewer_guests)),
}
