from bot.security import LinkSigner, Sealer, load_or_create_key


def test_sealed_values_round_trip_and_hide_the_value():
    sealer = Sealer("secret")
    token = sealer.seal("1985-03-04")
    assert "1985" not in token
    assert sealer.unseal(token) == "1985-03-04"


def test_sealed_values_from_another_key_or_expired_are_refused():
    token = Sealer("secret").seal("94110")
    assert Sealer("other").unseal(token) is None
    assert Sealer("secret").unseal(token, max_age=-1) is None
    assert Sealer("secret").unseal("garbage") is None


def test_personal_links_name_one_account_until_they_expire():
    signer = LinkSigner("secret")
    token = signer.sign("BW-10001", ttl=60, now=1000)
    assert signer.verify(token, now=1030) == "BW-10001"
    assert signer.verify(token, now=1061) is None


def test_tampered_or_foreign_links_are_refused():
    token = LinkSigner("secret").sign("BW-10001")
    assert LinkSigner("secret").verify(token.replace("BW-10001", "NW-20001")) is None
    assert LinkSigner("other").verify(token) is None
    assert LinkSigner("secret").verify("not-a-token") is None
    assert LinkSigner("secret").verify(None) is None


def test_the_key_is_created_once_and_private(tmp_path):
    path = tmp_path / "var" / "secret.key"
    key = load_or_create_key(path)
    assert load_or_create_key(path) == key
    assert path.stat().st_mode & 0o077 == 0


def test_agent_passwords_are_salted_scrypt_hashes_checked_in_constant_time():
    from bot.security import hash_password, verify_password

    first, second = hash_password("correct horse"), hash_password("correct horse")
    assert first != second and first.startswith("scrypt$")  # a salt of its own each time
    assert "correct horse" not in first
    assert verify_password("correct horse", first) and verify_password("correct horse", second)
    assert not verify_password("correct hors", first)
    for stored in (None, "", "plain", "md5$x$y", "scrypt$1$2$3$!!$!!"):  # malformed never matches
        assert not verify_password("correct horse", stored)


def test_a_personal_link_is_not_an_agent_session():
    from bot.security import LinkSigner

    link = LinkSigner("secret").sign("BW-10001")
    assert LinkSigner("secret", purpose="agent-sessions").verify(link) is None
