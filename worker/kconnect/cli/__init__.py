"""The `kconnect` command: `kconnect standalone ...` and `kconnect distributed ...`.

A user error (a file that can't be read, a bad key, an unknown class) ends the process with exit
code 1 and one message naming the file, the key, the value and what was expected, before anything
has started; never with a Python traceback.
"""

from __future__ import annotations

import argparse
import logging
import sys

from confluent_kafka import KafkaException

from kconnect.errors import ConnectError

EXIT_USAGE = 2
EXIT_CONFIG = 1


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="kconnect", description="Kafka Connect, in Python, built for Kubernetes."
    )
    parser.add_argument("--log-level", default="INFO", help="root log level (default INFO)")
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
    return parser


def configure_logging(level: str) -> None:
    logging.basicConfig(
        level=level.upper(),
        format="[%(asctime)s] %(levelname)s %(message)s (%(name)s)",
        stream=sys.stderr,
    )


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    configure_logging(args.log_level)
    try:
        if args.mode == "standalone":
            from kconnect.cli.standalone import run_standalone  # noqa: PLC0415

            return run_standalone(args.worker_config, args.connector_configs)
        if args.mode == "distributed":
            from kconnect.cli.distributed import run_distributed  # noqa: PLC0415

            return run_distributed(args.worker_config)
    except ConnectError as e:
        # A user error (ConfigError) or an environment one (Kafka unreachable, an internal
        # topic that can't be read): a message, never a traceback.
        print(f"kconnect: error: {e}", file=sys.stderr)
        return EXIT_CONFIG
    except KafkaException as e:
        # A client setting librdkafka rejects (say, an unknown `producer.` key).
        print(f"kconnect: error: Kafka client: {e.args[0] if e.args else e}", file=sys.stderr)
        return EXIT_CONFIG
    return EXIT_USAGE


if __name__ == "__main__":
    sys.exit(main())
