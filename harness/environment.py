"""Everything a run needs against one SUT: the harness's role, the SUT itself when it is the built-in
reference, and the manual-action driver. Works without pytest (the plugin is a thin skin over it).

With a ``[tls]`` table in the SUT file the link is TLS: the fake CSMS listens with wss:// (a client
certificate required when ``client_ca`` is set), or the fake station verifies the CSMS's wss:// server
against ``ca_certificate`` (and presents ``client_certificate``). The SSL contexts are built before anything
starts, so a bad certificate file is a configuration ERROR before any case runs.
"""

from __future__ import annotations

import ssl
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from harness import restore
from harness.actions import ActionDriver, HookDriver, PromptDriver, ReferenceDriver
from harness.case import SESSION, Case, CaseInfo, StepObserver
from harness.config import SutConfig, TlsConfig
from harness.roles import Answering, CsmsEndpoint, FakeCsms, FakeStation, Link, StationIdentity
from harness.fake_station import SimulatedStation
from harness.responders import csms_defaults, station_defaults
from harness.trace import TraceSettings
from harness.verdicts import HarnessError, Inconclusive, TransportFailure


@dataclass
class Environment:
    config: SutConfig
    link: Link
    actions: ActionDriver
    reference: Any = None
    station: SimulatedStation | None = None
    blocked: BaseException | None = None
    """Why cases cannot run as they should: the prelude's configuration ERROR, or a failed restore."""
    traces: TraceSettings | None = None
    """Where each trace is written as it is made (None: traces stay in memory until written)."""
    _prelude_done: bool = False
    _case: Case | None = None

    @classmethod
    async def start(cls, config: SutConfig, traces: TraceSettings | None = None) -> Environment:
        """Start the harness's role and, for the reference SUT, the SUT; stop everything on failure. With
        ``traces``, the session trace is written from its first record on, and so is each case's."""
        if config.role == "cs":
            return await _start_as_csms(config, traces)
        return await _start_as_station(config, traces)

    async def stop(self) -> None:
        """Stop what runs for the harness: a case's hooks, the reference SUT, the link (its port is free after)."""
        await self.end_case()
        if self.reference is not None:
            await self.reference.stop()
        if isinstance(self.link, FakeCsms):
            await self.link.stop()
        elif isinstance(self.link, FakeStation):
            await self.link.stop()

    def responders(self) -> dict[str, Any]:
        if self.config.role == "cs":
            return csms_defaults(self.config)
        assert self.station is not None
        return station_defaults(self.config, self.station)

    def new_case(self, info: CaseInfo, observer: StepObserver | None = None) -> Case:
        """A case attached to the link: from now on the SUT's frames go to it."""
        if info.role != self.config.role:
            raise HarnessError(f"{info.id} tests a {info.role.upper()}, but the SUT configured is a {self.config.role.upper()}")
        case = Case(info, self.link, self.config, self.actions, self.responders(), observer or StepObserver())
        if info.id == SESSION:
            case.trace.share_file(self.link.session)
        elif self.traces is not None:
            case.trace.open(self.traces)
        if self.reference is not None and info.id != SESSION:
            # The self-test's mutations of the reference SUT's frames apply within their target case only, and a
            # chaos behaviour within the cases of the run: the prelude and the restores between cases (the
            # session's housekeeping) meet a well-behaved SUT.
            self.reference.case_started(info.id)
        self.link.attach(case)
        self._case = case
        return case

    async def end_case(self) -> None:
        """Detach the case and stop what it started: manual actions still running, hook processes."""
        case, self._case = self._case, None
        self.link.attach(None)
        if self.reference is not None:
            self.reference.case_ended()
        if case is not None:
            await case.stop_actions()
        await self.actions.release()

    async def before_case(self) -> BaseException | None:
        """Bring the SUT to Part 6 §2.1's general preconditions before a case (the prelude the first time,
        a retried restore after one that failed); returns what the case must end with instead of running
        (an ERROR for a configuration at fault, INCONCLUSIVE for a SUT that cannot be restored)."""
        if not self._prelude_done:
            self._prelude_done = True
            await self._housekeeping("Prelude: the SUT is connected and Accepted", _PRELUDES[self.config.role])
        elif isinstance(self.blocked, (Inconclusive, TransportFailure)):
            await self._housekeeping("Restore before the case", _RESTORES[self.config.role])
        self.link.model.begin_case()
        return self.blocked

    async def after_case(self, case_id: str, passed: bool = True) -> None:
        """Pass or fail, give the next case the general preconditions back (traced in the session trace)."""
        if isinstance(self.blocked, HarnessError):
            return
        if not passed:
            await self._housekeeping(*_AFTER_A_FAILURE[self.config.role](case_id))
        await self._housekeeping(f"Restore after {case_id}", _RESTORES[self.config.role])

    async def _housekeeping(self, title: str, work: Callable[[Case], Awaitable[None]]) -> None:
        try:
            failed = await restore.housekeeping(self, title, work)
        except (HarnessError, TransportFailure) as error:
            self.blocked = error
            return
        except Exception as error:  # a harness bug in the restore: the cases after it cannot be trusted
            self.blocked = HarnessError(f"{title} failed in the harness: {type(error).__name__}: {error}")
            return
        self.blocked = None if failed is None else Inconclusive(
            f"the SUT is not at the general preconditions of Part 6 §2.1 ({title.lower()}: {failed})"
        )


def _action_driver(config: SutConfig, reference: Any) -> ActionDriver:
    if config.action_driver == "reference":
        if reference is None:
            raise HarnessError("the action driver 'reference' needs the reference SUT (sut kind = 'reference')")
        return ReferenceDriver(reference)
    if config.action_driver == "hook":
        return HookDriver(config.action_commands, config.action_webhook, config.timeouts.manual_action)
    if config.action_driver == "prompt":
        return PromptDriver(config.timeouts.manual_action)
    raise HarnessError(f"unknown action driver {config.action_driver!r} (reference, hook or prompt)")


TLS_VERSIONS = {"TLSv1.2": ssl.TLSVersion.TLSv1_2, "TLSv1.3": ssl.TLSVersion.TLSv1_3}


def server_ssl_context(config: SutConfig) -> ssl.SSLContext | None:
    """The fake CSMS's TLS context from ``[tls]`` (role cs), or None for ws://."""
    tls = _tls(config)
    if tls is None:
        return None
    if tls.server_certificate is None or tls.server_key is None:
        raise _tls_error(config, "[tls] server_certificate and server_key are required for the harness's CSMS")
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.minimum_version = _min_version(config, tls)
    with _loading(config, f"[tls] server_certificate {tls.server_certificate} / server_key {tls.server_key}"):
        context.load_cert_chain(tls.server_certificate, tls.server_key, password=_no_password)
    if tls.client_ca is not None:
        with _loading(config, f"[tls] client_ca {tls.client_ca}"):
            context.load_verify_locations(cafile=_file(tls.client_ca))
        context.verify_mode = ssl.CERT_REQUIRED  # security profile 3: no certificate, no connection
    return context


def client_ssl_context(config: SutConfig) -> ssl.SSLContext | None:
    """The fake station's TLS context from ``[tls]`` (role csms), or None for ws://. Verification is never off."""
    tls = _tls(config)
    wss = config.csms_url.startswith("wss://")
    if tls is None:
        if wss:
            raise _tls_error(config, "[csms] url is wss:// but there is no [tls] ca_certificate to verify the CSMS with")
        return None
    if not wss:
        raise _tls_error(config, f"[tls] is set but [csms] url {config.csms_url!r} is not wss://")
    if tls.ca_certificate is None:
        raise _tls_error(config, "[tls] ca_certificate is required to verify the CSMS's server certificate")
    with _loading(config, f"[tls] ca_certificate {tls.ca_certificate}"):
        context = ssl.create_default_context(cafile=_file(tls.ca_certificate))
    context.minimum_version = _min_version(config, tls)
    if tls.client_certificate is not None or tls.client_key is not None:
        if tls.client_certificate is None or tls.client_key is None:
            raise _tls_error(config, "[tls] client_certificate and client_key go together")
        with _loading(config, f"[tls] client_certificate {tls.client_certificate} / client_key {tls.client_key}"):
            context.load_cert_chain(tls.client_certificate, tls.client_key, password=_no_password)
    return context


def _tls(config: SutConfig) -> TlsConfig | None:
    if config.tls is not None and config.uses_reference:
        raise _tls_error(config, "[tls] only applies to an external SUT: the reference SUTs use ws://")
    return config.tls


def _min_version(config: SutConfig, tls: TlsConfig) -> ssl.TLSVersion:
    if tls.min_version not in TLS_VERSIONS:
        raise _tls_error(config, f"[tls] min_version must be one of {', '.join(TLS_VERSIONS)}, got {tls.min_version!r}")
    return TLS_VERSIONS[tls.min_version]


def _file(path: Path) -> str:
    """ssl wants a str cafile; an absent file is an OSError the caller names."""
    if not path.is_file():
        raise FileNotFoundError(f"no such file: {path}")
    return str(path)


def _no_password() -> str:
    """Never let OpenSSL prompt on the terminal for an encrypted key's password."""
    raise ValueError("the private key is encrypted; the harness needs an unencrypted PEM key")


@contextmanager
def _loading(config: SutConfig, what: str) -> Iterator[None]:
    try:
        yield
    except (OSError, ValueError) as error:  # ssl.SSLError is an OSError
        raise _tls_error(config, f"cannot load {what}: {error}") from None


def _tls_error(config: SutConfig, message: str) -> HarnessError:
    return HarnessError(f"invalid SUT configuration {config.source}: {message}")


async def _start_as_csms(config: SutConfig, traces: TraceSettings | None) -> Environment:
    endpoint = CsmsEndpoint(
        host=config.listen_host,
        port=config.listen_port,
        path=config.listen_path,
        identities=frozenset({config.identity}),
        basic_auth_password=config.basic_auth_password,
        ssl_context=server_ssl_context(config),
        max_frame_bytes=config.limits.max_frame_bytes,
    )
    idle = Answering(csms_defaults(config))
    link = FakeCsms(endpoint, idle)
    if traces is not None:
        link.session.open(traces)
    await link.start()
    reference = None
    try:
        if config.uses_reference:
            from harness.reference.station import ReferenceStation, StationSettings

            settings = StationSettings(
                csms_url=link.url,
                identity=config.identity,
                basic_auth_password=config.basic_auth_password,
                evses={evse: list(connectors) for evse, connectors in config.connectors.items()},
            )
            reference = ReferenceStation(settings, faults=config.faults, mutations=config.mutations, chaos=config.chaos)
            await reference.start()
        return Environment(config, link, _action_driver(config, reference), reference, traces=traces)
    except BaseException:
        if reference is not None:
            await reference.stop()
        await link.stop()
        raise


async def _start_as_station(config: SutConfig, traces: TraceSettings | None) -> Environment:
    reference = None
    csms_url = config.csms_url
    # Built before anything starts: a bad [tls] file is a configuration ERROR before any case runs.
    ssl_context = None if config.uses_reference and config.tls is None else client_ssl_context(config)
    if config.uses_reference:
        from harness.reference.csms import CsmsSettings, ReferenceCsms

        settings = CsmsSettings(
            known_identities={config.identity},
            basic_auth_password=config.basic_auth_password,
            heartbeat_interval=config.heartbeat_interval,
            id_tokens={
                config.valid_id_token.id_token: "Accepted",
                config.blocked_id_token.id_token: "Blocked",
                config.invalid_id_token.id_token: "Invalid",
            },
        )
        reference = ReferenceCsms(settings, faults=config.faults, mutations=config.mutations, chaos=config.chaos)
        await reference.start()
        csms_url = reference.url
    if not csms_url:
        raise HarnessError("no CSMS URL configured ([csms] url in the SUT file)")
    station = SimulatedStation(config)
    identity = StationIdentity(
        csms_url, config.identity, config.basic_auth_password, ssl_context, max_frame_bytes=config.limits.max_frame_bytes
    )
    link = FakeStation(identity, Answering(station_defaults(config, station)))
    station.attach(link)
    link.memory["station"] = station
    if traces is not None:
        link.session.open(traces)
    try:
        return Environment(config, link, _action_driver(config, reference), reference, station, traces=traces)
    except BaseException:
        if reference is not None:
            await reference.stop()
        raise


async def _csms_restore(case: Case) -> None:
    """CSMS under test: the harness's station is idle (Part 6 §2.1), connected and Accepted again. A transaction
    the case left open ends as a test bench reset ends it (TransactionEvent Ended, AbnormalCondition / Other),
    and every connector not Available (an EV plugged in, a reservation, Inoperative) reports Available. The
    station can only say so while Accepted, so a station that is not boots first."""
    from harness.states.csms import connected, ensure_booted, notify_connector, station_of

    await connected(case)
    station = station_of(case.link)
    if not station.accepted:
        await ensure_booted(case)
    for transaction in list(station.transactions.values()):
        ended = station.end_transaction(transaction, "AbnormalCondition", "Other")
        if transaction.started:
            await case.call("TransactionEvent", ended)
    for connector in station.not_available():
        station.make_available(connector)
        await notify_connector(case, connector.evse_id, connector.connector_id, connector.status)
    station.installed_certificates.clear()
    await ensure_booted(case)


_AFTER_A_FAILURE: dict[str, Callable[[str], tuple[str, Callable[[Case], Awaitable[None]]]]] = {
    "cs": lambda case_id: (f"Connectors re-read after {case_id}", restore.connectors_reread),
    "csms": lambda case_id: (f"Power cycle after {case_id}", restore.power_cycled),
}
"""What a case that did not PASS calls for before the restore: the station's own report of its connectors (a
station under test), a fresh start of the harness's station (a CSMS under test)."""
_PRELUDES: dict[str, Callable[[Case], Awaitable[None]]] = {"cs": restore.station_prelude, "csms": restore.csms_prelude}
_RESTORES: dict[str, Callable[[Case], Awaitable[None]]] = {"cs": restore.restore_station, "csms": _csms_restore}
