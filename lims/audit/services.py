"""Capture, append and verify the audit trail.

Every flush of an audited model appends one event per inserted, updated or deleted row, in the same transaction
(an ``after_flush`` hook, so no service can forget it). Bulk paths that bypass the ORM (the instrument import)
append their events through ``append`` themselves. Who and why come from ``session.info``: ``actor_id``,
``actor_name`` (set per request, or by a command) and ``audit_reason`` (set around a change with ``reason()``).
"""

from __future__ import annotations

import datetime as dt
import decimal
import enum
import hashlib
import json
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import event, insert, inspect, select, update
from sqlalchemy.orm import Session

from lims.models import Base, utcnow

from .models import AuditCheck, AuditEvent, AuditHead

GENESIS_HASH = "0" * 64
REDACTED = "«redacted»"
HEAD_ID = 1


def jsonable(value: Any) -> Any:
    """A JSON-safe, deterministic form of a column value for the trail."""
    if value is None or isinstance(value, (bool, int, str)):
        return value
    if isinstance(value, float):
        return repr(value)
    if isinstance(value, decimal.Decimal):
        return str(value)
    if isinstance(value, dt.datetime):
        if value.tzinfo is not None:
            value = value.astimezone(dt.timezone.utc)
        return value.isoformat()
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, enum.Enum):
        return jsonable(value.value)
    if isinstance(value, bytes):
        return "sha256:" + hashlib.sha256(value).hexdigest()
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [jsonable(v) for v in value]
    return str(value)


def _canonical(data: dict) -> bytes:
    return json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def event_hash(*, seq: int, occurred_at: dt.datetime, actor_id: int | None, actor_name: str, action: str,
               entity_type: str, entity_id: str, changes: dict, reason: str | None, prev_hash: str) -> str:
    """SHA-256 of the canonical JSON of one event (keys sorted, UTC timestamp to the microsecond)."""
    return hashlib.sha256(_canonical({
        "seq": seq,
        "occurred_at": occurred_at.astimezone(dt.timezone.utc).isoformat(timespec="microseconds"),
        "actor_id": actor_id,
        "actor_name": actor_name,
        "action": action,
        "entity_type": entity_type,
        "entity_id": entity_id,
        "changes": changes,
        "reason": reason,
        "prev_hash": prev_hash,
    })).hexdigest()


@dataclass
class PendingEvent:
    action: str
    entity_type: str
    entity_id: str
    changes: dict = field(default_factory=dict)
    reason: str | None = None


def _lock_head(session: Session) -> tuple[int, str]:
    query = select(AuditHead.seq, AuditHead.hash).where(AuditHead.id == HEAD_ID)
    if session.get_bind().dialect.name != "sqlite":
        query = query.with_for_update()
    row = session.connection().execute(query).one_or_none()
    if row is None:
        raise RuntimeError("audit_head is missing: run `lims db upgrade`")
    return row.seq, row.hash


def append(session: Session, events: Iterable[PendingEvent]) -> int:
    """Append ``events`` to the chain in this transaction; returns how many. Callers commit.

    Holds the head row's lock (``SELECT … FOR UPDATE`` on PostgreSQL; SQLite's writer lock) until the commit, so
    concurrent writers append one after the other and the chain never forks.
    """
    events = list(events)
    if not events:
        return 0
    info = session.info
    actor_id = info.get("actor_id")
    actor_name = info.get("actor_name", "") or ""
    default_reason = info.get("audit_reason")
    seq, prev = _lock_head(session)
    now = utcnow()
    rows = []
    for item in events:
        seq += 1
        changes = jsonable(item.changes)
        reason = item.reason if item.reason is not None else default_reason
        digest = event_hash(seq=seq, occurred_at=now, actor_id=actor_id, actor_name=actor_name, action=item.action,
                            entity_type=item.entity_type, entity_id=item.entity_id, changes=changes, reason=reason,
                            prev_hash=prev)
        rows.append({"seq": seq, "occurred_at": now, "actor_id": actor_id, "actor_name": actor_name,
                     "action": item.action, "entity_type": item.entity_type, "entity_id": item.entity_id,
                     "changes": changes, "reason": reason, "prev_hash": prev, "hash": digest})
        prev = digest
    connection = session.connection()
    for start in range(0, len(rows), 5000):
        connection.execute(insert(AuditEvent), rows[start:start + 5000])
    connection.execute(update(AuditHead).where(AuditHead.id == HEAD_ID).values(seq=seq, hash=prev))
    return len(rows)


def record(session: Session, *, action: str, entity_type: str, entity_id: Any = "", changes: dict | None = None,
           reason: str | None = None) -> None:
    """Append one explicit event (a login, a signature, an import …). Callers commit."""
    append(session, [PendingEvent(action, entity_type, str(entity_id or ""), changes or {}, reason)])


@contextmanager
def reason(session: Session, text: str | None) -> Iterator[None]:
    """Attach ``text`` as the reason of every event flushed inside the block."""
    before = session.info.get("audit_reason")
    session.info["audit_reason"] = text
    try:
        yield
    finally:
        session.info["audit_reason"] = before


def set_actor(session: Session, *, actor_id: int | None, actor_name: str) -> None:
    session.info["actor_id"] = actor_id
    session.info["actor_name"] = actor_name


# --- capture ---------------------------------------------------------------------------------------------------

def audit_policy(cls: type) -> bool | str:
    """``True`` when ``cls`` is audited, else the written reason it is exempt; ``AttributeError`` when undeclared."""
    policy = cls.__dict__.get("__audit__")
    if policy is None:
        for base in cls.__mro__[1:]:
            if "__audit__" in base.__dict__:
                policy = base.__dict__["__audit__"]
                break
    if policy is None:
        raise AttributeError(f"{cls.__name__} declares no __audit__ policy")
    return policy


def _is_audited(obj: Any) -> bool:
    return audit_policy(type(obj)) is True


def _entity_id(obj: Any) -> str:
    # Not state.identity: new objects get their identity key only after after_flush, but their primary key
    # attributes are already filled by the INSERT.
    key = inspect(obj).mapper.primary_key_from_instance(obj)
    return "/".join("" if part is None else str(part) for part in key)


def _redacted(cls: type) -> frozenset[str]:
    return frozenset(getattr(cls, "__audit_redact__", ()))


def _snapshot(obj: Any) -> dict:
    state = inspect(obj)
    redact = _redacted(type(obj))
    values = {}
    for attr in state.mapper.column_attrs:
        value = getattr(obj, attr.key)
        values[attr.key] = [None, REDACTED if attr.key in redact and value is not None else jsonable(value)]
    return values


def _diff(obj: Any) -> dict:
    state = inspect(obj)
    redact = _redacted(type(obj))
    changes = {}
    for attr in state.mapper.column_attrs:
        history = state.attrs[attr.key].history
        if not history.has_changes():
            continue
        old = history.deleted[0] if history.deleted else None
        new = history.added[0] if history.added else None
        if old == new:
            continue
        if attr.key in redact:
            changes[attr.key] = [REDACTED, REDACTED]
        else:
            changes[attr.key] = [jsonable(old), jsonable(new)]
    return changes


def _after_flush(session: Session, _context) -> None:
    pending: list[PendingEvent] = []
    for obj in session.new:
        if _is_audited(obj):
            state = inspect(obj)
            pending.append(PendingEvent("insert", state.mapper.local_table.name, _entity_id(obj), _snapshot(obj)))
    for obj in session.dirty:
        if _is_audited(obj) and session.is_modified(obj, include_collections=False):
            changes = _diff(obj)
            if changes:
                state = inspect(obj)
                pending.append(PendingEvent("update", state.mapper.local_table.name, _entity_id(obj), changes))
    for obj in session.deleted:
        if _is_audited(obj):
            state = inspect(obj)
            old = {key: [value[1], None] for key, value in _snapshot(obj).items()}
            pending.append(PendingEvent("delete", state.mapper.local_table.name, _entity_id(obj), old))
    append(session, pending)


def install() -> None:
    """Hook the capture into every ORM session (idempotent)."""
    if not event.contains(Session, "after_flush", _after_flush):
        event.listen(Session, "after_flush", _after_flush)


# --- verification ----------------------------------------------------------------------------------------------

@dataclass
class ChainReport:
    checked: int = 0
    problems: list[tuple[int, str]] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems

    def to_dict(self) -> dict:
        return {"ok": self.ok, "checked": self.checked,
                "problems": [{"seq": seq, "message": message} for seq, message in self.problems]}


def verify_chain(session: Session, *, max_problems: int = 100) -> ChainReport:
    """Walk the whole chain in ``seq`` order and report every break: changed, removed, inserted or reordered rows.

    - a row whose stored hash differs from the hash of its content was changed;
    - a gap in ``seq`` means rows were removed;
    - a row whose ``prev_hash`` is not the previous row's hash was inserted or moved;
    - a head that does not point at the last row means the tail was cut off.
    """
    report = ChainReport()
    expected_seq = 1
    prev = GENESIS_HASH
    # Plain rows, not ORM objects: the identity map could hold stale copies, and millions of events need no objects.
    table = AuditEvent.__table__
    result = session.connection().execute(select(table).order_by(table.c.seq).execution_options(yield_per=5000))
    broke_off = False
    for row in result:
        report.checked += 1
        if row.seq != expected_seq:
            report.problems.append((row.seq, f"events {expected_seq}–{row.seq - 1} are missing (removed)"))
        elif row.prev_hash != prev:
            report.problems.append((row.seq, "does not follow the previous event (inserted or reordered)"))
        computed = event_hash(seq=row.seq, occurred_at=_utc(row.occurred_at), actor_id=row.actor_id,
                              actor_name=row.actor_name, action=row.action, entity_type=row.entity_type,
                              entity_id=row.entity_id, changes=row.changes, reason=row.reason,
                              prev_hash=row.prev_hash)
        if computed != row.hash:
            report.problems.append((row.seq, "content does not match its hash (changed)"))
        prev = row.hash
        expected_seq = row.seq + 1
        if len(report.problems) >= max_problems:
            broke_off = True
            break
    result.close()
    if not broke_off:
        head = session.connection().execute(select(AuditHead.seq, AuditHead.hash).where(AuditHead.id == HEAD_ID)).one()
        if head.seq != expected_seq - 1 or head.hash != prev:
            report.problems.append((head.seq, f"the chain ends at event {expected_seq - 1} but its head says "
                                              f"{head.seq} (events removed from the end)"))
    return report


def _utc(value: dt.datetime) -> dt.datetime:
    # Core rows bypass the ORM type on some drivers' paths; SQLite gives naive UTC.
    return value if value.tzinfo else value.replace(tzinfo=dt.timezone.utc)


def record_check(session: Session, report: ChainReport) -> AuditCheck:
    """Store the result of a verification run. Callers commit."""
    check = AuditCheck(is_ok=report.ok, events_checked=report.checked, problems=report.to_dict())
    session.add(check)
    session.flush()
    return check


def last_check(session: Session) -> AuditCheck | None:
    return session.scalar(select(AuditCheck).order_by(AuditCheck.id.desc()).limit(1))


def history(session: Session, *, entity_type: str, entity_id: Any) -> list[AuditEvent]:
    """Every event of one record, oldest first."""
    return list(session.scalars(select(AuditEvent).where(AuditEvent.entity_type == entity_type,
                                                         AuditEvent.entity_id == str(entity_id))
                                .order_by(AuditEvent.seq)))


def audited_models() -> dict[str, bool | str]:
    """Every mapped class and its audit policy (``True`` or the exemption reason)."""
    return {mapper.class_.__name__: audit_policy(mapper.class_) for mapper in Base.registry.mappers}
