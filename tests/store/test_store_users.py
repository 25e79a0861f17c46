"""Users with roles and camera restrictions, API tokens, and the audit trail."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest

from citybrain.errors import StoreError
from citybrain.records import Role
from citybrain.store import AuditRepo, CameraRepo, Store, TokenRepo, UserRepo

T0 = datetime(2026, 3, 2, 8, 0, 0, tzinfo=UTC)


def test_user_roles_and_camera_restriction(store: Store, add_camera: Callable[..., int]) -> None:
    a, b = add_camera("a"), add_camera("b")
    with store.session() as session:
        repo = UserRepo(session)
        admin = repo.create(username="root", password_hash="$argon2id$x", role=Role.ADMIN)
        op = repo.create(username="op", password_hash="h", role=Role.OPERATOR, camera_ids=[b, a])
    assert admin.allowed_camera_ids is None and admin.camera_ids == frozenset()
    assert op.allowed_camera_ids == frozenset({a, b}) and op.role is Role.OPERATOR
    assert "$argon2id$x" not in repr(admin)
    with store.session() as session:
        repo = UserRepo(session)
        changed = repo.update(user_id=op.id, role=Role.SUPERVISOR, camera_ids={a}, disabled=True)
        assert repo.update(user_id=999, role=Role.ADMIN) is None
        found = repo.by_username(username="op")
        assert [u.username for u in repo.list()] == ["op", "root"]
    assert changed is not None and found == changed
    assert (changed.role, changed.disabled) == (Role.SUPERVISOR, True)
    assert changed.camera_ids == frozenset({a})
    with store.session() as session:
        lifted = UserRepo(session).update(user_id=op.id, camera_ids=())
    assert lifted is not None and lifted.allowed_camera_ids is None


def test_deleting_a_restricted_users_last_camera_leaves_them_nothing(
    store: Store, add_camera: Callable[..., int]
) -> None:
    only = add_camera("only")
    with store.session() as session:
        user = UserRepo(session).create(
            username="lim", password_hash="h", role=Role.OPERATOR, camera_ids=[only]
        )
    assert user.allowed_camera_ids == frozenset({only})
    with store.session() as session:
        CameraRepo(session).delete(camera_id=only)
    with store.session() as session:
        after = UserRepo(session).get(user_id=user.id)
    assert after is not None and after.allowed_camera_ids == frozenset()  # not "all cameras"


def test_user_errors(store: Store, add_camera: Callable[..., int]) -> None:
    with store.session() as session:
        UserRepo(session).create(username="ann", password_hash="h", role=Role.AUDITOR)
    with pytest.raises(StoreError, match="'ann' already exists"), store.session() as session:
        UserRepo(session).create(username="ann", password_hash="h", role=Role.AUDITOR)
    unknown = pytest.raises(StoreError, match=r"unknown camera id\(s\) \[404\]")
    with unknown, store.session() as session:
        UserRepo(session).create(
            username="bo", password_hash="h", role=Role.OPERATOR, camera_ids=[404]
        )
    invalid = pytest.raises(ValueError, match="'janitor' is not a valid Role")
    with invalid, store.session() as session:
        UserRepo(session).create(username="cy", password_hash="h", role="janitor")  # type: ignore[arg-type]
    with store.session() as session:
        assert UserRepo(session).by_username(username="bo") is None


def test_deleting_a_camera_or_user_cleans_up(store: Store, add_camera: Callable[..., int]) -> None:
    a, b = add_camera("a"), add_camera("b")
    with store.session() as session:
        user = UserRepo(session).create(username="op", password_hash="h", role=Role.OPERATOR,
                                        camera_ids=[a, b])  # fmt: skip
        TokenRepo(session).create(user_id=user.id, name="ci", token_hash="t" * 64)
    with store.session() as session:
        CameraRepo(session).delete(camera_id=a)
    with store.session() as session:
        record = UserRepo(session).get(user_id=user.id)
        assert record is not None and record.camera_ids == {b}
        assert UserRepo(session).delete(user_id=user.id)
        assert not UserRepo(session).delete(user_id=user.id)
    with store.session() as session:
        assert TokenRepo(session).find_active(token_hash="t" * 64) is None


def test_api_tokens(store: Store) -> None:
    with store.session() as session:
        user = UserRepo(session).create(username="svc", password_hash="h", role=Role.OPERATOR)
        tokens = TokenRepo(session)
        first = tokens.create(user_id=user.id, name="wall", token_hash="a" * 64)
        second = tokens.create(user_id=user.id, name="bot", token_hash="b" * 64)
    with store.session() as session:
        tokens = TokenRepo(session)
        found = tokens.find_active(token_hash="a" * 64)
        assert found is not None and found == (first, user.id)
        assert tokens.find_active(token_hash="c" * 64) is None
        tokens.touch(token_id=first.id, at=T0)
        assert tokens.revoke(token_id=second.id) and not tokens.revoke(token_id=999)
    with store.session() as session:
        tokens = TokenRepo(session)
        assert tokens.find_active(token_hash="b" * 64) is None
        listed = tokens.list_for(user_id=user.id)
        assert [(t.name, t.revoked) for t in listed] == [("bot", True), ("wall", False)]
        assert listed[1].last_used_at == T0
        UserRepo(session).update(user_id=user.id, disabled=True)
        assert tokens.find_active(token_hash="a" * 64) is None  # a disabled user's tokens stop
    with pytest.raises(StoreError, match="cannot store token"), store.session() as session:
        TokenRepo(session).create(user_id=user.id, name="dup", token_hash="a" * 64)


def test_audit_trail(store: Store) -> None:
    with store.session() as session:
        repo = AuditRepo(session)
        for i in range(10):
            repo.record(action="event.ack" if i % 2 else "video.view", username=f"u{i % 3}",
                        camera_id=i % 4 or None, target=f"event/{i}", client="10.1.1.1",
                        detail={"i": i}, at=T0 + timedelta(minutes=i))  # fmt: skip
    with store.session() as session:
        repo = AuditRepo(session)
        everything = repo.search()
        by_user = repo.search(username="u1")
        viewing = repo.search(action="video.view", since=T0 + timedelta(minutes=3))
        cameras = repo.search(camera_ids={1})
        paged = repo.search(limit=3, offset=3)
    assert [r.detail["i"] for r in everything.items] == list(range(9, -1, -1))
    assert everything.total == 10 and everything.items[0].at == T0 + timedelta(minutes=9)
    assert [r.detail["i"] for r in by_user.items] == [7, 4, 1]
    assert [r.detail["i"] for r in viewing.items] == [8, 6, 4]
    # A restricted auditor sees actions on their cameras and actions on no camera.
    assert [r.camera_id for r in cameras.items] == [1, None, 1, None, 1, None]
    assert ([r.detail["i"] for r in paged.items], paged.total) == ([6, 5, 4], 10)
    with store.session() as session:
        assert AuditRepo(session).delete_before(cutoff=T0 + timedelta(minutes=5)) == 5
        assert AuditRepo(session).search().total == 5
