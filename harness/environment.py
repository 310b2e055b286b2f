"""Everything a run needs against one SUT: the harness's role, the SUT itself when it is the built-in
reference, and the manual-action driver. Works without pytest (the plugin is a thin skin over it).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from harness.actions import ActionDriver, HookDriver, PromptDriver, ReferenceDriver
from harness.case import Case, CaseInfo, StepObserver
from harness.config import SutConfig
from harness.roles import Answering, CsmsEndpoint, FakeCsms, FakeStation, Link, StationIdentity
from harness.responders import csms_defaults, fake_station_device_model, station_defaults
from harness.verdicts import HarnessError


@dataclass
class Environment:
    config: SutConfig
    link: Link
    actions: ActionDriver
    reference: Any = None
    device_model: dict[tuple[str, str], str] | None = None

    @classmethod
    async def start(cls, config: SutConfig) -> Environment:
        """Start the harness's role and, for the reference SUT, the SUT; stop everything on failure."""
        if config.role == "cs":
            return await _start_as_csms(config)
        return await _start_as_station(config)

    async def stop(self) -> None:
        if self.reference is not None:
            await self.reference.stop()
        if isinstance(self.link, FakeCsms):
            await self.link.stop()
        elif isinstance(self.link, FakeStation):
            await self.link.stop()

    def responders(self) -> dict[str, Any]:
        if self.config.role == "cs":
            return csms_defaults(self.config)
        assert self.device_model is not None
        return station_defaults(self.config, self.device_model)

    def new_case(self, info: CaseInfo, observer: StepObserver | None = None) -> Case:
        """A case attached to the link: from now on the SUT's frames go to it."""
        if info.role != self.config.role:
            raise HarnessError(f"{info.id} tests a {info.role.upper()}, but the SUT configured is a {self.config.role.upper()}")
        case = Case(info, self.link, self.config, self.actions, self.responders(), observer or StepObserver())
        self.link.attach(case)
        return case

    def end_case(self) -> None:
        self.link.attach(None)


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


async def _start_as_csms(config: SutConfig) -> Environment:
    endpoint = CsmsEndpoint(
        host=config.listen_host,
        port=config.listen_port,
        path=config.listen_path,
        identities=frozenset({config.identity}),
        basic_auth_password=config.basic_auth_password,
    )
    idle = Answering(csms_defaults(config))
    link = FakeCsms(endpoint, idle)
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
            reference = ReferenceStation(settings, faults=config.faults)
            await reference.start()
            await _reference_booted(idle, config)
        return Environment(config, link, _action_driver(config, reference), reference)
    except BaseException:
        if reference is not None:
            await reference.stop()
        await link.stop()
        raise


async def _reference_booted(idle: Answering, config: SutConfig) -> None:
    """The general precondition "Charging Station is Accepted by the CSMS", for the reference station."""
    try:
        await idle.wait_for("BootNotification", config.timeouts.message)
    except TimeoutError:
        raise HarnessError("the reference Charging Station did not boot") from None


async def _start_as_station(config: SutConfig) -> Environment:
    reference = None
    csms_url = config.csms_url
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
        reference = ReferenceCsms(settings, faults=config.faults)
        await reference.start()
        csms_url = reference.url
    if not csms_url:
        raise HarnessError("no CSMS URL configured ([csms] url in the SUT file)")
    device_model = fake_station_device_model(config)
    identity = StationIdentity(csms_url, config.identity, config.basic_auth_password)
    link = FakeStation(identity, Answering(station_defaults(config, device_model)))
    link.memory["device_model"] = device_model
    try:
        return Environment(config, link, _action_driver(config, reference), reference, device_model)
    except BaseException:
        if reference is not None:
            await reference.stop()
        raise
