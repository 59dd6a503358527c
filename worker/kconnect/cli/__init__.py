"""The `kconnect` command: `kconnect standalone ...`, `kconnect distributed ...`, and the offline
tools `kconnect lint ...` (`kconnect.cli.lint`) and `kconnect dry-run ...` (`kconnect.cli.dryrun`).

A user error (a file that can't be read, a bad key, an unknown class) ends the process with exit
code 1 and one message naming the file, the key, the value and what was expected, before anything
has started; never with a Python traceback. With `--log-format json` (or `KCONNECT_LOG_FORMAT=json`)
that message is a JSON log line like every other line on stderr (`kconnect.cli.logs`).
"""

from __future__ import annotations

import argparse
import logging
import os
import signal
import sys
from types import FrameType

from confluent_kafka import KafkaException

from kconnect.cli.logs import JSON, LOG_FORMAT_ENV, LOG_FORMATS, TEXT, configure_logging
from kconnect.errors import ConnectError
from kconnect.rest.loggers import parse_level

EXIT_USAGE = 2
EXIT_CONFIG = 1


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="kconnect", description="Kafka Connect, in Python, built for Kubernetes."
    )
    parser.add_argument(
        "--log-level",
        default="INFO",
        help="root log level, a Kafka (log4j) name: TRACE, DEBUG, INFO, WARN, ERROR, FATAL "
        "(default INFO)",
    )
    parser.add_argument(
        "--log-format",
        choices=LOG_FORMATS,
        default=None,
        help=f"text: Kafka Connect's layout; json: one object per line "
        f"(default: ${LOG_FORMAT_ENV}, else text)",
    )
    sub = parser.add_subparsers(dest="mode", required=True)
    standalone = sub.add_parser(
        "standalone",
        help="run connectors from files in one process, offsets in a local file",
        description="Run a standalone worker, as Apache Kafka's connect-standalone.sh does.",
    )
    standalone.add_argument("worker_config", help="worker .properties file")
    standalone.add_argument(
        "connector_configs", nargs="*", help="connector .properties or .json files"
    )
    distributed = sub.add_parser(
        "distributed",
        help="join a cluster of workers; configs through the REST API, stored in Kafka",
        description="Run a distributed worker, as Apache Kafka's connect-distributed.sh does.",
    )
    distributed.add_argument("worker_config", help="worker .properties file")
    lint = sub.add_parser(
        "lint",
        help="check worker and connector configs offline, with the REST validate endpoint's "
        "messages",
        description="Check connector .properties/.json files, worker .properties files and "
        "KafkaConnector/StandaloneConnect manifests (YAML) without Kafka. Exit code 0: all "
        "valid; 1: a config is invalid; 2: usage error or unreadable input.",
    )
    lint.add_argument(
        "files",
        nargs="+",
        help="connector .properties/.json, worker .properties (no connector.class), or .yaml "
        "manifests",
    )
    lint.add_argument(
        "--worker",
        metavar="WORKER.properties",
        help="the worker file the connector files run under (its converters, plugins, policy)",
    )
    lint.add_argument("--output", choices=("text", "json"), default="text")
    dry_run = sub.add_parser(
        "dry-run",
        help="run a connector for a few records without Kafka",
        description="Run a source connector for N records and print them as Kafka would get "
        "them (converted and transformed, one JSON line each), or feed a sink connector "
        "records from a JSON-lines file and call its put and flush. Kafka is never contacted.",
    )
    dry_run.add_argument("connector", help="connector .properties/.json or a .yaml manifest")
    dry_run.add_argument(
        "--worker",
        metavar="WORKER.properties",
        help="the worker file whose converters and plugin settings apply",
    )
    dry_run.add_argument(
        "--connector-name", help="which connector of a manifest holding several", default=None
    )
    dry_run.add_argument("--records", type=int, default=10, help="stop after N records (10)")
    dry_run.add_argument(
        "--timeout", type=float, default=30.0, help="stop after this many seconds (30)"
    )
    dry_run.add_argument(
        "--output", default="-", help="where a source's records go, as JSON lines (- : stdout)"
    )
    dry_run.add_argument(
        "--input", default=None, help="a sink's records, as JSON lines (- : stdin)"
    )
    return parser


def _log_settings(parser: argparse.ArgumentParser, args: argparse.Namespace) -> tuple[int, str]:
    """(level, format) from the arguments and the environment; a usage error names the bad
    value and what is expected."""
    level = parse_level(args.log_level)
    if level is None:
        parser.error(
            f"argument --log-level: invalid level {args.log_level!r}: expected one of "
            "TRACE, DEBUG, INFO, WARN, ERROR, FATAL"
        )
    log_format = args.log_format
    if log_format is None:
        log_format = os.environ.get(LOG_FORMAT_ENV, "").strip().lower() or TEXT
        if log_format not in LOG_FORMATS:
            parser.error(
                f"invalid {LOG_FORMAT_ENV}={os.environ[LOG_FORMAT_ENV]!r}: expected one of "
                f"{', '.join(LOG_FORMATS)}"
            )
    return level, log_format


def _fail(message: str, log_format: str) -> int:
    """Report a user or environment error: plain text on stderr, or a log line in JSON."""
    if log_format == JSON:
        logging.getLogger("kconnect.cli").error("kconnect: error: %s", message)
    else:
        print(f"kconnect: error: {message}", file=sys.stderr)
    return EXIT_CONFIG


def _exit_on_sigterm(signum: int, _frame: FrameType | None) -> None:
    raise SystemExit(128 + signum)


def main(argv: list[str] | None = None) -> int:
    if os.getpid() == 1:
        # A container's first process has no default action for SIGTERM: the kernel drops it.
        # Until the worker serves and installs its own handlers (once Kafka has answered), SIGTERM
        # ends it as it would end any other process, rather than leaving a stopping pod to wait
        # for SIGKILL.
        signal.signal(signal.SIGTERM, _exit_on_sigterm)
    parser = _parser()
    args = parser.parse_args(argv)
    level, log_format = _log_settings(parser, args)
    configure_logging(level, log_format)
    try:
        if args.mode == "standalone":
            from kconnect.cli.standalone import run_standalone  # noqa: PLC0415

            return run_standalone(args.worker_config, args.connector_configs)
        if args.mode == "distributed":
            from kconnect.cli.distributed import run_distributed  # noqa: PLC0415

            return run_distributed(args.worker_config)
        if args.mode == "lint":
            from kconnect.cli.lint import run_lint  # noqa: PLC0415

            return run_lint(args.files, args.worker, args.output)
        if args.mode == "dry-run":
            from kconnect.cli.dryrun import DryRunOptions, run_dry_run  # noqa: PLC0415

            if args.records < 1 or args.timeout <= 0:
                parser.error("--records must be at least 1 and --timeout above 0")
            return run_dry_run(
                DryRunOptions(
                    connector_path=args.connector,
                    worker_path=args.worker,
                    connector_name=args.connector_name,
                    records=args.records,
                    timeout_s=args.timeout,
                    output=args.output,
                    input=args.input,
                )
            )
    except ConnectError as e:
        # A user error (ConfigError) or an environment one (Kafka unreachable, an internal
        # topic that can't be read): a message, never a traceback.
        return _fail(str(e), log_format)
    except KafkaException as e:
        # A client setting librdkafka rejects (say, an unknown `producer.` key).
        return _fail(f"Kafka client: {e.args[0] if e.args else e}", log_format)
    return EXIT_USAGE


if __name__ == "__main__":
    sys.exit(main())
