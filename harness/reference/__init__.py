"""The reference SUTs: a Charging Station and a CSMS built on the ``ocpp`` package, with named faults."""


class UnknownAction(LookupError):
    """A manual action the reference SUT does not know: the harness makes the case INCONCLUSIVE."""


class NotConnected(LookupError):
    """The reference SUT cannot perform the action now: the peer it must send to is not connected (INCONCLUSIVE)."""
