"""The default profile's events and contexts, as typed models, after dbt's seed (what they may
carry: docs/guarantees.md, "Privacy").

Each model mirrors one self-describing JSON schema shipped in ``tracking/schemas/`` (the schema
file is the contract a collector validates; the model is how Python code builds a valid instance;
``tests/tracking/test_tracking_events.py`` proves the two agree). Nothing here can carry a name,
a path or contents: free text is limited to short, pattern-checked tokens, and identifiers are
keyed hashes (see :mod:`tracking.ids`).

Only pydantic is imported, so ``telemetry events`` can render the catalog without the sending
machinery.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

__all__ = [
    "CI_VENDOR_PATTERN",
    "COMMAND_PATTERN",
    "HASH_PATTERN",
    "TOKEN_PATTERN",
    "USER_ID_PATTERN",
    "UUID_PATTERN",
    "CiContext",
    "Command",
    "InvocationContext",
    "InvocationEnd",
    "InvocationStart",
    "KeyedHash",
    "ModelRun",
    "PlatformContext",
    "RunStatus",
    "TelemetryModel",
    "Token",
    "UserId",
    "Uuid",
]

#: A keyed hash (HMAC-SHA-256, hex): see :func:`tracking.ids.keyed_hash`.
HASH_PATTERN = r"^[0-9a-f]{64}$"
UUID_PATTERN = r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$"
#: An installation's random id, or in CI a constant per CI vendor (``ci-github-actions``).
USER_ID_PATTERN = (
    r"^(?:[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}|ci-[a-z0-9-]{1,33})$"
)
#: A CI system's name from consent/ci.py's table (``GitHub Actions``), or ``unknown``.
CI_VENDOR_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9 .-]{0,63}$"
#: A command such as ``run`` or ``docs generate``: one or two lower-case words the host chose,
#: so that arguments (a model selector, a path) do not fit.
COMMAND_PATTERN = r"^[a-z][a-z0-9_-]{0,31}(?: [a-z][a-z0-9_-]{0,31})?$"
#: A lower-case token such as a node type (``model``) or a materialization (``table``).
TOKEN_PATTERN = r"^[a-z][a-z0-9_]{0,31}$"

KeyedHash = Annotated[str, StringConstraints(pattern=HASH_PATTERN, max_length=64)]
Uuid = Annotated[str, StringConstraints(pattern=UUID_PATTERN, max_length=36)]
UserId = Annotated[str, StringConstraints(pattern=USER_ID_PATTERN, max_length=36)]
Command = Annotated[str, StringConstraints(pattern=COMMAND_PATTERN, max_length=64)]
Token = Annotated[str, StringConstraints(pattern=TOKEN_PATTERN, max_length=32)]
_COMMAND_DOC = (
    "The command the tool ran: one or two lower-case words, e.g. `run` or "
    "`docs generate` (never its arguments)."
)
RunStatus = Literal["success", "error", "skipped", "fail", "warn", "pass"]


class TelemetryModel(BaseModel):
    """Base of every event and context: unknown fields are refused, instances are immutable."""

    model_config = ConfigDict(extra="forbid", frozen=True)


# -- events -------------------------------------------------------------------------------------
class InvocationStart(TelemetryModel):
    """The host started a command."""

    command: Command = Field(description=_COMMAND_DOC)


class InvocationEnd(TelemetryModel):
    """The host finished a command: whether it succeeded, how long it took, how many nodes ran."""

    command: Command = Field(description=_COMMAND_DOC)
    success: bool = Field(description="Whether the command succeeded.")
    duration_s: float = Field(ge=0, le=31_536_000, description="Wall-clock duration in seconds.")
    node_counts: dict[Token, Annotated[int, Field(ge=0, le=1_000_000_000)]] = Field(
        default_factory=dict,
        max_length=32,
        description='How many nodes of each type ran, e.g. {"model": 3, "test": 2}.',
    )


class ModelRun(TelemetryModel):
    """A model finished. Its name and contents never leave the machine, only a keyed hash."""

    model_key: KeyedHash = Field(
        description="Keyed hash (HMAC-SHA-256 with this installation's secret) of the model's "
        "contents: tells runs of the same model apart without revealing it."
    )
    status: RunStatus = Field(description="How the run ended.")
    execution_time_s: float = Field(ge=0, le=31_536_000, description="Execution time in seconds.")
    materialization: Token = Field(description="How the model was materialized, e.g. `table`.")


# -- contexts -----------------------------------------------------------------------------------
class PlatformContext(TelemetryModel):
    """Where the tool runs: attached to every event."""

    os: str = Field(
        min_length=1, max_length=32, description="Operating system family, e.g. `Linux`."
    )
    python_version: str = Field(
        min_length=1, max_length=32, description="Python version, e.g. `3.12.4`."
    )
    tool_version: str | None = Field(
        max_length=64, description="The host tool's version, if it says."
    )


class InvocationContext(TelemetryModel):
    """Which run, which (anonymous) user, which (anonymised) project: attached to every event."""

    invocation_id: Uuid = Field(description="Random id of this command run.")
    anonymous_user_id: UserId = Field(
        description="Random id of this installation (`telemetry reset` forgets it), or, in CI, "
        "a constant per CI vendor (`ci-github-actions`)."
    )
    project_id: KeyedHash | None = Field(
        description="Keyed hash of the project (its name or directory), or null outside a "
        "project and in CI."
    )
    edition: Literal["core", "cloud"] = Field(description="The edition the decision was made for.")


class CiContext(TelemetryModel):
    """Attached to every event sent from CI: which CI system ran the tool, nothing else."""

    vendor: str = Field(
        min_length=1,
        max_length=64,
        pattern=CI_VENDOR_PATTERN,
        description="The CI system, e.g. `GitHub Actions`, or `unknown` when only `CI` said so.",
    )
