"""Passwords are hashed with scrypt in production; only the test suite uses a cheap hash."""

from __future__ import annotations

from tests.conftest import build_app


def test_production_settings_hash_with_scrypt_and_testing_settings_do_not():
    from webapp.config import CHEAP_TEST_HASH, Settings

    assert Settings.from_env({}).password_hash_method == "scrypt"
    assert Settings.from_env({"TESTING": "False"}).password_hash_method == "scrypt"
    assert Settings.from_env({"TESTING": "True"}).password_hash_method == CHEAP_TEST_HASH
    assert (
        Settings.from_env(
            {"TESTING": "True", "PASSWORD_HASH_METHOD": "scrypt"}
        ).password_hash_method
        == "scrypt"
    )


def test_an_app_not_under_testing_stores_scrypt_hashes_that_still_log_in(tmp_path):
    from tests.conftest import create_user_now

    production = build_app(tmp_path / "prod", TESTING=False)
    with production.app_context():
        user, _ = create_user_now("archives@example.org", "archivist", "long-password-1")
        assert user.password_hash.startswith("scrypt:")
        assert user.check_password("long-password-1")
        assert not user.check_password("long-password-2")
    testing = build_app(tmp_path / "test")
    with testing.app_context():
        user, _ = create_user_now("archives@example.org", "archivist", "long-password-1")
        assert user.password_hash.startswith("pbkdf2:sha256:")
        assert user.check_password("long-password-1")
