"""The SUT configuration file (harness/config.py): strict, every mistake a HarnessError naming key and file."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from harness import config as sut_config
from harness.actions import ACTIONS
from harness.config import SutConfig, Timeouts, TlsConfig, load, reference_config
from harness.verdicts import HarnessError

REPO = Path(__file__).resolve().parent.parent
EXAMPLES = REPO / "fixtures" / "sut"
CS_PICS = REPO / "fixtures" / "pics" / "reference_cs.toml"

CS = "[sut]\nrole = 'cs'\n"
CSMS = "[sut]\nrole = 'csms'\n[csms]\nurl = 'ws://127.0.0.1:9000/ocpp'\n"


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "sut.toml"
    path.write_text(text, encoding="utf-8")
    return path


def rejected(tmp_path: Path, text: str) -> str:
    """Load ``text``; it must fail with a HarnessError naming the file. Returns the message."""
    path = write(tmp_path, text)
    with pytest.raises(HarnessError) as error:
        load(path)
    message = str(error.value)
    assert str(path) in message
    return message


# --- the example files ------------------------------------------------------------------------------------

def test_example_cs_file_loads() -> None:
    loaded = load(EXAMPLES / "example_cs.toml")
    assert (loaded.role, loaded.sut, loaded.action_driver) == ("cs", "external", "hook")
    assert loaded.tls is None  # [tls] is a commented example
    assert not loaded.uses_reference
    assert set(loaded.action_commands) == set(ACTIONS)
    assert loaded.evse_id in loaded.connectors and loaded.connector_id in loaded.connectors[loaded.evse_id]
    assert loaded.source == str(EXAMPLES / "example_cs.toml")


def test_example_csms_file_loads() -> None:
    loaded = load(EXAMPLES / "example_csms.toml")
    assert (loaded.role, loaded.sut, loaded.action_driver) == ("csms", "external", "hook")
    assert loaded.csms_url.startswith("ws://127.0.0.1")
    assert set(loaded.action_commands) == set(ACTIONS)
    assert loaded.action_webhook is None  # the webhook is a commented example
    assert loaded.tls is None  # so is [tls]


@pytest.mark.parametrize("name", ["example_cs.toml", "example_csms.toml"])
def test_example_files_show_a_commented_tls_table(name: str) -> None:
    text = (EXAMPLES / name).read_text(encoding="utf-8")
    assert "\n# [tls]\n" in text and "\n[tls]" not in text
    assert load(EXAMPLES / name).tls is None
    keys = sut_config.TLS_KEYS["cs" if name == "example_cs.toml" else "csms"]
    assert all(f"\n# {key} = " in text for key in keys)


@pytest.mark.parametrize("name", ["example_cs.toml", "example_csms.toml"])
def test_example_files_use_only_harmless_local_hooks(name: str) -> None:
    text = (EXAMPLES / name).read_text(encoding="utf-8")
    commands = load(EXAMPLES / name).action_commands.values()
    assert all(command.startswith(("./scripts/station-ctl ", "./scripts/csms-ctl ")) for command in commands)
    assert "ssh " not in text and "sudo" not in text
    assert "# webhook = \"http://127.0.0.1:" in text


@pytest.mark.parametrize("name", ["example_cs.toml", "example_csms.toml"])
def test_example_files_document_every_key(name: str) -> None:
    """Each key line carries a comment, or the comment block of its table explains it."""
    lines = (EXAMPLES / name).read_text(encoding="utf-8").splitlines()
    for number, line in enumerate(lines):
        stripped = line.strip()
        if not stripped or stripped.startswith(("#", "[")) or "=" not in stripped:
            continue
        if stripped.startswith('"'):  # an EVSE of [station.connectors], described in the table's comment
            continue
        documented = "#" in stripped or lines[number - 1].strip().startswith("#")
        assert documented, f"{name}:{number + 1}: {stripped!r} has no comment"


def test_minimal_files_get_the_defaults(tmp_path: Path) -> None:
    loaded = load(write(tmp_path, CS))
    assert (loaded.role, loaded.sut, loaded.identity, loaded.action_driver) == ("cs", "external", "CS001", "prompt")
    assert loaded.timeouts == Timeouts()
    assert load(write(tmp_path, CSMS)).csms_url == "ws://127.0.0.1:9000/ocpp"


def test_a_reference_file_needs_no_url_and_may_have_faults(tmp_path: Path) -> None:
    loaded = load(write(tmp_path, "[sut]\nrole = 'csms'\nkind = 'reference'\n[actions]\ndriver = 'reference'\n"
                                  "[reference]\nfaults = ['rejects_boot']\n"))
    assert loaded.uses_reference and loaded.faults == ("rejects_boot",) and loaded.csms_url == ""


# --- rejections ---------------------------------------------------------------------------------------------

def test_unreadable_file(tmp_path: Path) -> None:
    with pytest.raises(HarnessError, match="cannot read SUT configuration .*missing.toml"):
        load(tmp_path / "missing.toml")
    with pytest.raises(HarnessError, match="cannot read SUT configuration"):
        load(write(tmp_path, "[sut\nrole = 'cs'\n"))


def test_a_pics_file_is_rejected_with_a_hint() -> None:
    with pytest.raises(HarnessError) as error:
        load(CS_PICS)
    message = str(error.value)
    assert str(CS_PICS) in message and "[features]" in message and "PICS file" in message


@pytest.mark.parametrize("text, words", [
    (CS + "[sutt]\nkind = 'external'\n", ["unknown table", "[sutt]"]),
    ("[sut]\nrole = 'cs'\nkidn = 'external'\n", ["unknown key", "'kidn'", "[sut]"]),
    (CS + "[station]\nidentiy = 'X'\n", ["'identiy'", "[station]"]),
    (CS + "[csms]\nlisten_prot = 9000\n", ["'listen_prot'", "[csms]"]),
    (CS + "[id_tokens]\nvaild = { id_token = 'A' }\n", ["'vaild'", "[id_tokens]"]),
    (CS + "[id_tokens]\nvalid = { id_token = 'A', typ = 'Local' }\n", ["'typ'", "[id_tokens.valid]"]),
    (CS + "[data_transfer]\nvendorId = 'x'\n", ["'vendorId'", "[data_transfer]"]),
    (CS + "[timeouts]\nresponce = 3\n", ["'responce'", "[timeouts]"]),
    (CS + "[actions]\ndriver = 'hook'\nwebhok = 'http://127.0.0.1/'\n", ["'webhok'", "[actions]"]),
    (CS + "[actions.commands]\nreboott = './x'\n", ["'reboott'", "[actions.commands]"]),
    (CS + "[reference]\nfault = ['x']\n", ["'fault'", "[reference]"]),
    ("profiles = ['core']\n" + CS, ["unknown table", "[profiles]"]),
])
def test_unknown_tables_and_keys_are_named(tmp_path: Path, text: str, words: list[str]) -> None:
    message = rejected(tmp_path, text)
    for word in words:
        assert word in message


@pytest.mark.parametrize("text, words", [
    ("[station]\nidentity = 'X'\n", ["[sut] role is missing"]),
    ("[sut]\nrole = 'station'\n", ["[sut] role", "'cs', 'csms'", "'station'"]),
    ("[sut]\nrole = 'CS'\n", ["[sut] role", "'CS'"]),
    ("[sut]\nrole = 1\n", ["[sut] role must be a string"]),
    (CS.replace("\n", "\nkind = 'real'\n", 1), ["[sut] kind", "'external', 'reference'", "'real'"]),
    ("sut = 'cs'\n", ["[sut] must be a table"]),
])
def test_sut_table(tmp_path: Path, text: str, words: list[str]) -> None:
    message = rejected(tmp_path, text)
    for word in words:
        assert word in message


@pytest.mark.parametrize("text, words", [
    (CS + "[actions]\ndriver = 'script'\n", ["[actions] driver", "'prompt', 'hook', 'reference'", "'script'"]),
    (CS + "[actions]\ndriver = 'reference'\n", ["driver 'reference' needs the reference SUT"]),
    (CS + "[actions]\nwebhook = 'ftp://127.0.0.1/'\n", ["[actions] webhook", "http://"]),
    (CS + "[actions]\ncommands = './reboot'\n", ["[actions] commands must be a table"]),
    (CS + "[actions.commands]\nreboot = 5\n", ["[actions.commands] reboot must be a string"]),
    (CS + "[actions.commands]\nreboot = './x {evse_id'\n", ["[actions.commands] reboot is not a valid template"]),
])
def test_actions_table(tmp_path: Path, text: str, words: list[str]) -> None:
    message = rejected(tmp_path, text)
    for word in words:
        assert word in message


def test_csms_url_rules(tmp_path: Path) -> None:
    assert "[csms] url is missing" in rejected(tmp_path, "[sut]\nrole = 'csms'\n")
    assert "[csms] url is missing" in rejected(tmp_path, "[sut]\nrole = 'csms'\nkind = 'external'\n[csms]\nlisten_port = 1\n")
    for url in ("http://127.0.0.1:9000/ocpp", "127.0.0.1:9000", "wss//host"):
        message = rejected(tmp_path, f"[sut]\nrole = 'csms'\n[csms]\nurl = '{url}'\n")
        assert "[csms] url must start with ws:// or wss://" in message and url in message
    # wss:// is checked with [tls] (test_tls_* below): without it the server could not be verified.
    assert "no [tls] table" in rejected(tmp_path, "[sut]\nrole = 'csms'\n[csms]\nurl = 'wss://csms.example/ocpp'\n")
    # A Charging Station under test needs no [csms] url: the harness is the CSMS.
    assert load(write(tmp_path, CS + "[csms]\nlisten_port = 9000\n")).csms_url == ""


@pytest.mark.parametrize("token_type", sut_config.ID_TOKEN_TYPES)
def test_every_id_token_enum_value_is_accepted(tmp_path: Path, token_type: str) -> None:
    loaded = load(write(tmp_path, CS + f"[id_tokens]\nvalid = {{ id_token = 'ABC', type = '{token_type}' }}\n"))
    assert loaded.valid_id_token.as_payload() == {"idToken": "ABC", "type": token_type}


def test_id_token_enum_is_that_of_ocpp_201() -> None:
    assert set(sut_config.ID_TOKEN_TYPES) == {
        "Central", "eMAID", "ISO14443", "ISO15693", "KeyCode", "Local", "MacAddress", "NoAuthorization"
    }


@pytest.mark.parametrize("text, words", [
    ("valid = { id_token = 'A', type = 'RFID' }", ["[id_tokens.valid] type", "'RFID'", "ISO14443"]),
    ("blocked = { id_token = 'A', type = 'iso14443' }", ["[id_tokens.blocked] type", "'iso14443'"]),
    ("invalid = { type = 'Local' }", ["[id_tokens.invalid] id_token is missing"]),
    ("valid = { id_token = 42 }", ["[id_tokens.valid] id_token must be a string"]),
    ("valid = { id_token = '' }", ["[id_tokens.valid] id_token must not be empty"]),
    (f"valid = {{ id_token = '{'A' * 37}' }}", ["[id_tokens.valid] id_token must be at most 36"]),
    ("valid = 'VALID001'", ["[id_tokens.valid] must be a table"]),
])
def test_id_tokens(tmp_path: Path, text: str, words: list[str]) -> None:
    message = rejected(tmp_path, CS + "[id_tokens]\n" + text + "\n")
    for word in words:
        assert word in message


@pytest.mark.parametrize("identity, words", [
    ("''", ["[station] identity must not be empty"]),
    (f"'{'C' * 49}'", ["[station] identity must be at most 48 characters"]),
    ("'CS:001'", ["[station] identity must not contain ':'"]),
    ("1", ["[station] identity must be a string"]),
])
def test_identity(tmp_path: Path, identity: str, words: list[str]) -> None:
    message = rejected(tmp_path, CS + f"[station]\nidentity = {identity}\n")
    for word in words:
        assert word in message


def test_identity_limits_are_inclusive(tmp_path: Path) -> None:
    assert load(write(tmp_path, CS + f"[station]\nidentity = '{'C' * 48}'\n")).identity == "C" * 48
    assert load(write(tmp_path, CS + "[station]\nidentity = 'C'\n")).identity == "C"


def test_boot_notification_limits(tmp_path: Path) -> None:
    assert "[station] model must be at most 20 characters" in rejected(tmp_path, CS + f"[station]\nmodel = '{'M' * 21}'\n")
    assert "[station] vendor_name must be at most 50 characters" in rejected(
        tmp_path, CS + f"[station]\nvendor_name = '{'V' * 51}'\n"
    )
    loaded = load(write(tmp_path, CS + f"[station]\nmodel = '{'M' * 20}'\nvendor_name = '{'V' * 50}'\n"))
    assert (len(loaded.model), len(loaded.vendor_name)) == (20, 50)


@pytest.mark.parametrize("text, words", [
    ("[station]\nevse_id = '1'", ["[station] evse_id must be an integer", "a string"]),
    ("[station]\nevse_id = 1.0", ["[station] evse_id must be an integer"]),
    ("[station]\nconnector_id = true", ["[station] connector_id must be an integer", "a boolean"]),
    ("[station]\nevse_id = 0", ["[station] evse_id must be at least 1"]),
    ("[station]\nevse_id = 2", ["[station] evse_id 2 is not an EVSE"]),
    ("[station]\nconnector_id = 2", ["[station] connector_id 2 is not a connector of EVSE 1"]),
    ("[station]\nheartbeat_interval = '300'", ["[station] heartbeat_interval must be an integer"]),
    ("[station]\nheartbeat_interval = 0", ["[station] heartbeat_interval must be at least 1"]),
    ("[station]\ntx_updated_interval = -1", ["[station] tx_updated_interval must be at least 0"]),
    ("[station]\nretry_back_off_wait_minimum = 'soon'", ["[station] retry_back_off_wait_minimum must be an integer"]),
    ("[station]\nbasic_auth_password = 1234", ["[station] basic_auth_password must be a string"]),
    ("[station]\nmodel = 7", ["[station] model must be a string"]),
    ("[station]\nconnectors = { \"1\" = [0] }", ["[station] connectors: EVSE 1"]),
    ("[station]\nconnectors = { \"one\" = [1] }", ["[station] connectors: EVSE id 'one'"]),
    ("[station]\nconnectors = {}", ["[station] connectors must be a non-empty table"]),
    ("[csms]\nlisten_port = '9000'", ["[csms] listen_port must be an integer"]),
    ("[csms]\nlisten_port = 70000", ["[csms] listen_port must be at most 65535"]),
    ("[csms]\nlisten_host = 127", ["[csms] listen_host must be a string"]),
    ("[csms]\nlisten_path = 'ocpp'", ["[csms] listen_path must start with '/'"]),
    ("[data_transfer]\nvendor_id = 5", ["[data_transfer] vendor_id must be a string"]),
    (f"[data_transfer]\nmessage_id = '{'m' * 51}'", ["[data_transfer] message_id must be at most 50"]),
    ("[reference]\nfaults = 'seqno_gap'", ["[reference] faults must be an array of strings"]),
    ("[reference]\nfaults = ['seqno_gap']", ["[reference] faults only apply to the reference SUT"]),
])
def test_types_and_ranges(tmp_path: Path, text: str, words: list[str]) -> None:
    message = rejected(tmp_path, CS + text + "\n")
    for word in words:
        assert word in message


def test_unknown_reference_fault(tmp_path: Path) -> None:
    message = rejected(tmp_path, "[sut]\nrole = 'cs'\nkind = 'reference'\n[reference]\nfaults = ['no_such_fault']\n")
    assert "no_such_fault" in message and "seqno_gap" in message  # names the known ones
    with pytest.raises(HarnessError, match="no_such_fault"):
        reference_config("csms", ("no_such_fault",))


@pytest.mark.parametrize("value, words", [
    ("0", ["[timeouts] response must be a positive number"]),
    ("-1.5", ["[timeouts] response must be a positive number"]),
    ("'30'", ["[timeouts] response must be a number of seconds", "a string"]),
    ("true", ["[timeouts] response must be a number of seconds", "a boolean"]),
    ("nan", ["[timeouts] response must be a positive number"]),
    ("inf", ["[timeouts] response must be a positive number"]),
])
def test_timeouts_must_be_positive_numbers(tmp_path: Path, value: str, words: list[str]) -> None:
    message = rejected(tmp_path, CS + f"[timeouts]\nresponse = {value}\n")
    for word in words:
        assert word in message


def test_timeouts_accept_integers_and_floats(tmp_path: Path) -> None:
    loaded = load(write(tmp_path, CS + "[timeouts]\nresponse = 3\nsilence = 0.25\n"))
    assert loaded.timeouts == Timeouts(response=3.0, silence=0.25)


def test_from_dict_names_its_source() -> None:
    with pytest.raises(HarnessError, match=r"invalid SUT configuration my-source: unknown key\(s\) 'x' in \[sut\]"):
        sut_config.from_dict({"sut": {"role": "cs", "x": 1}}, source="my-source")


# --- masking ------------------------------------------------------------------------------------------------

def test_masked_hides_the_password() -> None:
    loaded = load(EXAMPLES / "example_cs.toml")
    assert loaded.basic_auth_password
    masked = loaded.masked()
    assert masked["basic_auth_password"] == "****"
    assert loaded.basic_auth_password not in repr(masked)
    assert masked["identity"] == loaded.identity


def test_masked_without_a_password() -> None:
    assert SutConfig().masked()["basic_auth_password"] is None


# --- [tls] --------------------------------------------------------------------------------------------------

def _pem(path: Path, item: x509.Certificate | ec.EllipticCurvePrivateKey, password: bytes | None = None) -> None:
    if isinstance(item, x509.Certificate):
        path.write_bytes(item.public_bytes(serialization.Encoding.PEM))
        return
    encryption = serialization.BestAvailableEncryption(password) if password else serialization.NoEncryption()
    path.write_bytes(item.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, encryption))


@pytest.fixture
def pki(tmp_path: Path) -> Path:
    """``tmp_path/pki``: a self-signed cert.pem with its cert.key (also usable as a CA file), other.key that
    belongs to no certificate, encrypted.key (cert.key under a password) and not_pem.txt."""
    folder = tmp_path / "pki"
    folder.mkdir()
    key, other = ec.generate_private_key(ec.SECP256R1()), ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Test")])
    now = dt.datetime.now(dt.timezone.utc)
    certificate = (
        x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
        .serial_number(1).not_valid_before(now).not_valid_after(now + dt.timedelta(hours=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    _pem(folder / "cert.pem", certificate)
    _pem(folder / "cert.key", key)
    _pem(folder / "other.key", other)
    _pem(folder / "encrypted.key", key, b"password")
    (folder / "not_pem.txt").write_text("not a PEM file\n", encoding="utf-8")
    return folder


CS_TLS = CS + "[tls]\nserver_certificate = 'pki/cert.pem'\nserver_key = 'pki/cert.key'\n"
CSMS_TLS = "[sut]\nrole = 'csms'\n[csms]\nurl = 'wss://127.0.0.1:9443/ocpp'\n[tls]\nca_certificate = 'pki/cert.pem'\n"


def test_tls_of_a_station_under_test_with_relative_paths(tmp_path: Path, pki: Path) -> None:
    loaded = load(write(tmp_path, CS_TLS + "client_ca = 'pki/cert.pem'\nmin_version = 'TLSv1.3'\n"))
    assert loaded.tls == TlsConfig(
        "TLSv1.3", server_certificate=pki / "cert.pem", server_key=pki / "cert.key", client_ca=pki / "cert.pem"
    )
    assert loaded.tls.client_certificates
    without_ca = load(write(tmp_path, CS_TLS)).tls
    assert without_ca is not None and without_ca.min_version == "TLSv1.2" and not without_ca.client_certificates


def test_tls_paths_are_relative_to_the_sut_file_not_the_working_directory(
    tmp_path: Path, pki: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write(tmp_path, CS_TLS)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    loaded = load(Path("..") / "sut.toml")
    assert loaded.tls is not None and loaded.tls.server_certificate == (elsewhere / ".." / "pki" / "cert.pem")
    assert loaded.tls.server_certificate.is_absolute() and loaded.tls.server_certificate.is_file()


def test_tls_absolute_paths_are_kept(tmp_path: Path, pki: Path) -> None:
    other = tmp_path / "sub"
    other.mkdir()
    path = other / "sut.toml"
    path.write_text(CS + f"[tls]\nserver_certificate = '{pki / 'cert.pem'}'\nserver_key = '{pki / 'cert.key'}'\n", encoding="utf-8")
    loaded = load(path)
    assert loaded.tls is not None and loaded.tls.server_key == pki / "cert.key"


def test_tls_of_a_csms_under_test(tmp_path: Path, pki: Path) -> None:
    loaded = load(write(tmp_path, CSMS_TLS))
    assert loaded.tls == TlsConfig(ca_certificate=pki / "cert.pem")
    assert not loaded.tls.client_certificates
    loaded = load(write(tmp_path, CSMS_TLS + "client_certificate = 'pki/cert.pem'\nclient_key = 'pki/cert.key'\n"))
    assert loaded.tls is not None and loaded.tls.client_certificates
    assert (loaded.tls.client_certificate, loaded.tls.client_key) == (pki / "cert.pem", pki / "cert.key")


def test_from_dict_resolves_tls_paths_against_base_dir(pki: Path) -> None:
    data = {"sut": {"role": "cs"}, "tls": {"server_certificate": "cert.pem", "server_key": "cert.key"}}
    loaded = sut_config.from_dict(data, "inline", base_dir=pki)
    assert loaded.tls is not None and loaded.tls.server_certificate == pki / "cert.pem"


@pytest.mark.parametrize("text, words", [
    (CS + "[tls]\nserver_key = 'pki/cert.key'\n", ["[tls] server_certificate is missing", "wss://"]),
    (CS + "[tls]\nserver_certificate = 'pki/cert.pem'\n", ["[tls] server_key is missing"]),
    (CS + "[tls]\n", ["[tls] server_certificate is missing"]),
    (CS_TLS + "ca_certificate = 'pki/cert.pem'\n", ["[tls] 'ca_certificate' only applies to role = 'csms'", "server_certificate, server_key, client_ca, min_version"]),
    (CS_TLS + "client_certificate = 'pki/cert.pem'\nclient_key = 'pki/cert.key'\n", ["'client_certificate', 'client_key' only apply to role = 'csms'"]),
    (CS_TLS + "server_cert = 'pki/cert.pem'\n", ["unknown key(s) 'server_cert' in [tls]"]),
    (CS_TLS + "min_version = 'TLSv1.1'\n", ["[tls] min_version must be one of 'TLSv1.2', 'TLSv1.3'", "'TLSv1.1'"]),
    (CS_TLS + "min_version = 1.2\n", ["[tls] min_version must be a string"]),
    (CS + "[tls]\nserver_certificate = 5\nserver_key = 'pki/cert.key'\n", ["[tls] server_certificate must be a string"]),
    (CS + "[tls]\nserver_certificate = ''\nserver_key = 'pki/cert.key'\n", ["[tls] server_certificate must not be empty"]),
    ("tls = 'pki/cert.pem'\n" + CS, ["[tls] must be a table"]),
    (CS_TLS.replace("role = 'cs'", "role = 'cs'\nkind = 'reference'") + "[actions]\ndriver = 'reference'\n", ["[tls] only applies to an external SUT", "ws://"]),
])
def test_tls_table_of_a_station_under_test(tmp_path: Path, pki: Path, text: str, words: list[str]) -> None:
    message = rejected(tmp_path, text)
    for word in words:
        assert word in message


@pytest.mark.parametrize("key, value, words", [
    ("server_certificate", "pki/missing.pem", ["[tls] server_certificate: cannot read", "missing.pem", "No such file"]),
    ("server_certificate", "pki", ["[tls] server_certificate: cannot read"]),
    ("server_certificate", "pki/not_pem.txt", ["[tls] server_certificate:", "not_pem.txt", "holds no readable PEM certificate"]),
    ("server_certificate", "pki/cert.key", ["[tls] server_certificate:", "holds no readable PEM certificate"]),
    ("server_key", "pki/missing.key", ["[tls] server_key: cannot read", "missing.key"]),
    ("server_key", "pki/not_pem.txt", ["[tls] server_key:", "holds no readable PEM private key"]),
    ("server_key", "pki/cert.pem", ["[tls] server_key:", "holds no readable PEM private key"]),
    ("server_key", "pki/encrypted.key", ["[tls] server_key:", "encrypted.key", "is an encrypted private key"]),
    ("server_key", "pki/other.key", ["[tls] server_key", "other.key", "does not match [tls] server_certificate", "cert.pem"]),
    ("client_ca", "pki/missing.pem", ["[tls] client_ca: cannot read", "missing.pem"]),
    ("client_ca", "pki/not_pem.txt", ["[tls] client_ca:", "holds no readable PEM certificate"]),
])
def test_tls_files_of_a_station_under_test(tmp_path: Path, pki: Path, key: str, value: str, words: list[str]) -> None:
    table = {"server_certificate": "pki/cert.pem", "server_key": "pki/cert.key", key: value}
    message = rejected(tmp_path, CS + "[tls]\n" + "".join(f"{k} = '{v}'\n" for k, v in table.items()))
    for word in words:
        assert word in message
    assert str(tmp_path / value) in message


@pytest.mark.parametrize("text, words", [
    ("[sut]\nrole = 'csms'\n[csms]\nurl = 'wss://127.0.0.1:9443/ocpp'\n", ["[csms] url is wss:// but there is no [tls] table", "ca_certificate", "never connects without verifying"]),
    ("[sut]\nrole = 'csms'\n[csms]\nurl = 'wss://127.0.0.1:9443/ocpp'\n[tls]\nmin_version = 'TLSv1.3'\n", ["[tls] ca_certificate is missing", "verify"]),
    (CSMS_TLS.replace("wss://", "ws://"), ["[tls] is set but [csms] url 'ws://127.0.0.1:9443/ocpp' is not wss://"]),
    (CSMS_TLS + "client_certificate = 'pki/cert.pem'\n", ["[tls] client_certificate is set but client_key is missing"]),
    (CSMS_TLS + "client_key = 'pki/cert.key'\n", ["[tls] client_key is set but client_certificate is missing"]),
    (CSMS_TLS + "client_certificate = 'pki/cert.pem'\nclient_key = 'pki/other.key'\n", ["[tls] client_key", "does not match [tls] client_certificate"]),
    (CSMS_TLS + "client_certificate = 'pki/cert.pem'\nclient_key = 'pki/encrypted.key'\n", ["[tls] client_key:", "encrypted"]),
    (CSMS_TLS.replace("pki/cert.pem", "pki/missing.pem"), ["[tls] ca_certificate: cannot read", "missing.pem"]),
    (CSMS_TLS.replace("pki/cert.pem", "pki/not_pem.txt"), ["[tls] ca_certificate:", "holds no readable PEM certificate"]),
    (CSMS_TLS + "server_certificate = 'pki/cert.pem'\n", ["[tls] 'server_certificate' only applies to role = 'cs'", "ca_certificate, client_certificate, client_key, min_version"]),
    (CSMS_TLS.replace("role = 'csms'", "role = 'csms'\nkind = 'reference'") + "[actions]\ndriver = 'reference'\n", ["[tls] only applies to an external SUT"]),
])
def test_tls_table_of_a_csms_under_test(tmp_path: Path, pki: Path, text: str, words: list[str]) -> None:
    message = rejected(tmp_path, text)
    for word in words:
        assert word in message


def test_a_ws_csms_needs_no_tls(tmp_path: Path) -> None:
    assert load(write(tmp_path, CSMS)).tls is None
