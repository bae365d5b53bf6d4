"""jaffle: a small dbt-like tool that embeds telemetry-consent in a few lines.

    python examples/jaffle run                  # run models/*.sql into target/jaffle.db
    python examples/jaffle telemetry status     # the same `telemetry` commands, bound to jaffle

The telemetry part is marked with ``# telemetry``; everything else is the tool's own job.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

# Run as ``python examples/jaffle``: Python puts this directory first on sys.path, so the tool's
# own modules (jaffle_profile, runner) import by name.
import click
from jaffle_profile import PROFILE  # telemetry
from runner import PROJECT_FILE, find_project, load_models, run_models

from telemetry_cli import telemetry_group  # telemetry
from tracking import Tracker  # telemetry

DEMO = Path(__file__).resolve().parent / "demo"


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
def cli() -> None:
    """A tiny dbt-like tool: runs SQL models against SQLite."""


@cli.command()
@click.option(
    "--project-dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help=f"Where {PROJECT_FILE} is (default: the working directory, upward).",
)
@click.option(
    "--send-anonymous-usage-stats/--no-send-anonymous-usage-stats",
    default=None,
    help="Override telemetry for this run (see `jaffle telemetry status`).",
)
def run(project_dir: Path | None, send_anonymous_usage_stats: bool | None) -> None:
    """Run every model in models/, in file order."""
    project = project_dir.resolve() if project_dir else find_project(os.getcwd())
    if project is None:
        click.echo(f"No {PROJECT_FILE} here or above; using the demo project in {DEMO}.", err=True)
        project = DEMO
    models = load_models(project)

    tracker = Tracker(
        PROFILE,
        host_flag=send_anonymous_usage_stats,
        project_dir=str(project),  # telemetry: the project this run uses, as --project-dir
        project_name=project.name,
    )  # telemetry
    failed = 0
    with tracker.invocation("run") as invocation:  # telemetry
        for result in run_models(project, models):
            mark = "OK " if result.status == "success" else "ERR"
            click.echo(
                f"{mark} {result.model.name:<24} {result.message} "
                f"({result.execution_time_s * 1000:.1f} ms)"
            )
            invocation.model_run(
                contents=result.model.sql,
                status=result.status,  # telemetry
                execution_time_s=result.execution_time_s,  # telemetry
                materialization=result.model.materialization,
            )  # telemetry
            invocation.count("model")  # telemetry
            failed += result.status != "success"
    built = len(models) - failed
    click.echo(f"Done: {built} of {len(models)} models built in {project / 'target'}.")
    if failed:
        sys.exit(1)


cli.add_command(telemetry_group(PROFILE), "telemetry")  # telemetry


if __name__ == "__main__":
    cli(prog_name="jaffle")
