"""Command-line interface of NATS-bench (``nats-bench`` or ``python -m nats``).

Each subcommand is a thin wrapper around one library function, imported only
when the subcommand runs so that ``--help`` stays fast. The Snakemake rules
call these subcommands, one per job.

Invalid input (``ConfigError``, any other ``ValueError``, ``FileNotFoundError``)
ends the program with exit status 2 and one line on stderr. Other exceptions
propagate with their traceback.
"""

import argparse
import json
import logging
import sys
from pathlib import Path

from nats import __version__
from nats.exceptions import TrainingInterrupted

logger = logging.getLogger(__name__)

PROGRAM_NAME = "nats-bench"
EXIT_INVALID_INPUT = 2
# EX_TEMPFAIL of sysexits.h: the run saved a checkpoint and can be resumed.
EXIT_INTERRUPTED = 75
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR")


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}")
    return value


def _non_negative_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a non-negative integer, got {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"expected a non-negative integer, got {text!r}")
    return value


def _require_file(path: Path, description: str) -> None:
    if not path.is_file():
        raise FileNotFoundError(f"{description} {str(path)!r} not found")


def _require_directory(path: Path, description: str) -> None:
    if not path.is_dir():
        raise FileNotFoundError(f"{description} {str(path)!r} not found or not a directory")


def _set_threads(threads: int | None) -> None:
    if threads is None:
        return

    import torch

    torch.set_num_threads(threads)
    logger.debug("torch uses %d CPU threads", threads)


def load_run_config(value: str) -> dict:
    """Read a resolved run config from a YAML/JSON file or an inline JSON object.

    Args:
        value: a path to a YAML or JSON file, or a JSON object starting with ``{``.

    Returns:
        The run config, not yet validated.

    Raises:
        FileNotFoundError: if ``value`` is neither inline JSON nor an existing file.
        ValueError: if the text does not parse to a mapping.
    """
    if value.lstrip().startswith("{"):
        source = "inline --run-config"
        try:
            run_config = json.loads(value)
        except json.JSONDecodeError as error:
            raise ValueError(f"{source} is not valid JSON: {error}") from error
    else:
        import yaml

        path = Path(value)
        source = f"run config file {value!r}"
        _require_file(path, "run config file")
        try:
            run_config = yaml.safe_load(path.read_text())
        except yaml.YAMLError as error:
            raise ValueError(f"{source} is not valid YAML or JSON: {_one_line(error)}") from error

    if not isinstance(run_config, dict):
        raise ValueError(f"{source} must contain a mapping, got {type(run_config).__name__}")
    return run_config


def _run_train(args: argparse.Namespace) -> None:
    from nats.config import validate_run_config

    run_config = load_run_config(args.run_config)
    validate_run_config(run_config)
    _set_threads(args.threads)

    from nats.training import train_run

    status = train_run(run_config, args.run_dir, args.threads)
    if status == "diverged":
        logger.warning("run %s diverged; its provenance.json and final.pt record the error", args.run_dir)


def _run_prepare_data(args: argparse.Namespace) -> None:
    settings = load_run_config(args.settings)

    from nats.data.prepare import prepare_image_dataset
    from nats.atomic_files import atomic_write_text

    try:
        manifest = prepare_image_dataset(args.dataset, settings)
    except ModuleNotFoundError as error:
        # A missing optional reader (lmdb for LSUN, gdown for CelebA's
        # download) is a setup problem of the user's, not a crash.
        raise ValueError(str(error)) from error
    args.out.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_text(args.out, json.dumps(manifest, indent=2) + "\n")


def _run_resolve(args: argparse.Namespace) -> None:
    import yaml

    from nats.config import ConfigError, load_config, resolve_run_config

    try:
        config = load_config(args.config)
    except yaml.YAMLError as error:
        raise ConfigError(f"config file {str(args.config)!r} is not valid YAML: {_one_line(error)}") from error
    grid = (("dataset", args.dataset, list(config["datasets"])), ("method", args.method, list(config["methods"])), ("seed", args.seed, config["seeds"]))
    for what, value, members in grid:
        if value not in members:
            raise ConfigError(
                f"{what} {value!r} is not in the grid of {str(args.config)!r}, which has {', '.join(map(str, members))}"
            )
    run_config = resolve_run_config(config, args.dataset, args.method, args.seed)
    sys.stdout.write(yaml.safe_dump(run_config, sort_keys=False))


def _run_classifier(args: argparse.Namespace) -> None:
    from nats.metrics.digits_classifier import build_classifier

    args.out.parent.mkdir(parents=True, exist_ok=True)
    summary = build_classifier(args.resolution, args.epochs, args.seed, args.out)
    logger.info("digits classifier written to %s: %s", args.out, json.dumps(summary, default=str))


# Options of ``evaluate`` that only apply to an image set (--images).
IMAGE_SET_OPTIONS = ("config", "protocol", "dataset", "label", "seed", "sample_mode")


# GPU claims of this process, held until it exits so that concurrent jobs
# on one machine each keep a GPU of their own.
_GPU_CLAIMS = []


def _resolve_device(device: str | None, default: str) -> str:
    device = default if device is None else device
    if device == "cpu":
        return device

    from nats.training import claim_device

    resolved, gpu_claim = claim_device(device)
    if gpu_claim is not None:
        _GPU_CLAIMS.append(gpu_claim)
    return str(resolved)


def _run_evaluate(args: argparse.Namespace) -> None:
    if args.images is not None:
        _run_evaluate_images(args)
        return
    image_set_options = [f"--{name.replace('_', '-')}" for name in IMAGE_SET_OPTIONS if getattr(args, name) is not None]
    if image_set_options:
        raise ValueError(
            f"{', '.join(image_set_options)} only apply to an image set; pass --images PATH instead of --run-dir, "
            "or drop them (a run records its own dataset, method, seed and sample modes)"
        )
    _require_directory(args.run_dir, "run directory")
    if args.classifier is not None:
        _require_file(args.classifier, "classifier file")
    _set_threads(args.threads)

    evaluation = None if args.evaluation is None else load_run_config(args.evaluation)

    from nats.evaluation import evaluate_run

    options = {} if args.cache_dir is None else {"cache_dir": args.cache_dir}
    from nats.runs import CONFIG_FILE, read_run_config

    device = args.device
    if device is None and (args.run_dir / CONFIG_FILE).is_file():
        device = read_run_config(args.run_dir)["training"].get("device", "cpu")
    if device is not None:
        device = _resolve_device(device, "auto")
    records = evaluate_run(args.run_dir, args.out, args.classifier, args.samples, device=device, evaluation=evaluation, **options)
    logger.info("wrote %d metric records to %s", len(records), args.out)


def _run_evaluate_images(args: argparse.Namespace) -> None:
    if not args.images.exists():
        raise FileNotFoundError(f"image set {str(args.images)!r} not found")
    if args.config is None:
        raise ValueError(
            "--images needs --config, the pipeline config whose evaluation block sets the protocols, "
            "their counts, references and weights"
        )

    from nats.config import load_config

    config = load_config(args.config)
    _set_threads(args.threads)

    from nats.evaluation import evaluate_images

    dataset_settings = None
    if args.dataset in config["datasets"]:
        from nats.config import resolve_run_config

        run_config = resolve_run_config(config, args.dataset, next(iter(config["methods"])), config["seeds"][0])
        if "source" in run_config["dataset"]:
            dataset_settings = run_config["dataset"]

    args.out.parent.mkdir(parents=True, exist_ok=True)
    records = evaluate_images(
        args.images, args.out, args.protocol, config.get("evaluation") or {}, config_name=config["name"],
        dataset=args.dataset, label=args.label, seed=args.seed, sample_mode=args.sample_mode,
        device=_resolve_device(args.device, "auto"), cache_dir=args.cache_dir, dataset_settings=dataset_settings,
    )
    logger.info("wrote %d metric records to %s", len(records), args.out)


def _run_aggregate(args: argparse.Namespace) -> None:
    _require_directory(args.runs_dir, "runs directory")

    from nats.report.aggregate import aggregate_metrics

    args.out.parent.mkdir(parents=True, exist_ok=True)
    aggregate_metrics(args.runs_dir, args.out)
    logger.info("metrics table written to %s", args.out)


def _run_tables(args: argparse.Namespace) -> None:
    _require_file(args.metrics, "metrics table")

    from nats.report.tables import write_tables

    args.out_dir.mkdir(parents=True, exist_ok=True)
    write_tables(args.metrics, args.out_dir)
    logger.info("tables written to %s", args.out_dir)


def _run_plots(args: argparse.Namespace) -> None:
    _require_file(args.metrics, "metrics table")
    _require_directory(args.runs_dir, "runs directory")

    from nats.report.plots import write_plots

    args.out_dir.mkdir(parents=True, exist_ok=True)
    write_plots(args.metrics, args.runs_dir, args.out_dir)
    logger.info("plots written to %s", args.out_dir)


def _add_threads_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--threads",
        type=_positive_int,
        default=None,
        metavar="N",
        help="number of CPU threads for torch (default: torch's own choice)",
    )


def build_parser() -> argparse.ArgumentParser:
    """Build the argument parser with one subparser per subcommand.

    Returns:
        The parser. Each subcommand stores its handler in ``args.handler``.
    """
    parser = argparse.ArgumentParser(
        prog=PROGRAM_NAME,
        description="Train, evaluate and report the NATS-bench grid, one job at a time.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    parser.add_argument(
        "--log-level",
        choices=LOG_LEVELS,
        default="INFO",
        type=str.upper,
        help="minimum level of the log messages written to stderr (default: INFO)",
    )
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    train = subparsers.add_parser("train", help="train one run of the grid")
    train.add_argument(
        "--run-config",
        required=True,
        metavar="FILE_OR_JSON",
        help="resolved run config: a YAML/JSON file or an inline JSON object",
    )
    train.add_argument("--run-dir", required=True, type=Path, metavar="DIR", help="directory the run writes to")
    _add_threads_option(train)
    train.set_defaults(handler=_run_train)

    prepare = subparsers.add_parser(
        "prepare-data", help="check an image dataset's files, download them where allowed, and write a manifest"
    )
    prepare.add_argument("--dataset", required=True, help="dataset name in the grid, e.g. cifar10")
    prepare.add_argument(
        "--settings",
        required=True,
        metavar="FILE_OR_JSON",
        help="the dataset's resolved settings (the dataset block of 'nats-bench resolve'): a YAML/JSON file or inline JSON",
    )
    prepare.add_argument("--out", required=True, type=Path, metavar="PATH", help="manifest (JSON) to write")
    prepare.set_defaults(handler=_run_prepare_data)

    resolve = subparsers.add_parser("resolve", help="print the resolved config of one run as YAML")
    resolve.add_argument("--config", required=True, type=Path, metavar="FILE", help="pipeline config (YAML)")
    resolve.add_argument("--dataset", required=True, help="dataset name, e.g. digits")
    resolve.add_argument("--method", required=True, help="method name, e.g. nats-sngan")
    resolve.add_argument("--seed", required=True, type=_non_negative_int, help="training seed")
    resolve.set_defaults(handler=_run_resolve)

    classifier = subparsers.add_parser("classifier", help="train the digits classifier that the metrics use")
    classifier.add_argument("--resolution", required=True, type=_positive_int, help="image height and width in pixels")
    classifier.add_argument("--epochs", required=True, type=_positive_int, help="training epochs")
    classifier.add_argument("--seed", required=True, type=_non_negative_int, help="training seed")
    classifier.add_argument("--out", required=True, type=Path, metavar="PATH", help="weights file to write")
    classifier.set_defaults(handler=_run_classifier)

    evaluate = subparsers.add_parser(
        "evaluate", help="compute the metrics of one trained run, or of an image set under one image protocol"
    )
    evaluate_source = evaluate.add_mutually_exclusive_group(required=True)
    evaluate_source.add_argument("--run-dir", type=Path, metavar="DIR", help="directory of the trained run")
    evaluate_source.add_argument(
        "--images", type=Path, metavar="PATH", help="image set to score instead of a run: a .npz file or a folder of images"
    )
    evaluate.add_argument(
        "--config", type=Path, default=None, metavar="FILE", help="pipeline config whose evaluation settings apply (with --images)"
    )
    evaluate.add_argument(
        "--protocol",
        action="append",
        choices=("inception", "clean", "legacy"),
        default=None,
        help="image protocol to run (with --images); repeat it for several. Default: the protocols listed in the "
        "config's evaluation.images.protocols",
    )
    evaluate.add_argument(
        "--dataset",
        default=None,
        help="dataset the images imitate, recorded in the records (with --images; default: recorded as null). "
        "digits also selects the bundled digits as the reference of protocols that set none",
    )
    evaluate.add_argument(
        "--label",
        "--method",
        dest="label",
        default=None,
        help="name recorded as the method (with --images; default: the file or folder name)",
    )
    evaluate.add_argument(
        "--seed",
        type=_non_negative_int,
        default=None,
        help="training seed of the model that drew the images (with --images; default: recorded as null)",
    )
    evaluate.add_argument(
        "--sample-mode",
        default=None,
        help="how the images were drawn, e.g. generator or refined (with --images; default: recorded as null)",
    )
    evaluate.add_argument(
        "--cache-dir", type=Path, default=None, metavar="DIR", help="folder of cached real-image features of the image protocols"
    )
    evaluate.add_argument("--out", required=True, type=Path, metavar="PATH", help="metrics file to write (JSON lines)")
    evaluate.add_argument(
        "--classifier", type=Path, default=None, metavar="PATH", help="digits classifier weights (digits runs only)"
    )
    evaluate.add_argument(
        "--samples", type=Path, default=None, metavar="PATH", help="file to save the generated samples to (.npz)"
    )
    evaluate.add_argument(
        "--evaluation",
        default=None,
        metavar="FILE_OR_JSON",
        help="resolved evaluation settings (YAML/JSON file or inline JSON) replacing those in the run's config.yaml",
    )
    evaluate.add_argument(
        "--device",
        choices=("cpu", "cuda", "auto"),
        default=None,
        help="where sampling and feature extraction run (default: the run's training device; "
        "auto for an image set, which picks cuda when available)",
    )
    _add_threads_option(evaluate)
    evaluate.set_defaults(handler=_run_evaluate)

    aggregate = subparsers.add_parser("aggregate", help="collect the metrics of every run into one CSV table")
    aggregate.add_argument("--runs-dir", required=True, type=Path, metavar="DIR", help="directory containing every run")
    aggregate.add_argument("--out", required=True, type=Path, metavar="CSV", help="CSV file to write")
    aggregate.set_defaults(handler=_run_aggregate)

    tables = subparsers.add_parser("tables", help="render the result tables (Markdown, LaTeX, CSV)")
    tables.add_argument("--metrics", required=True, type=Path, metavar="CSV", help="metrics table from 'aggregate'")
    tables.add_argument("--out-dir", required=True, type=Path, metavar="DIR", help="directory to write the tables to")
    tables.set_defaults(handler=_run_tables)

    plots = subparsers.add_parser("plots", help="draw the metric curves and sample grids (PNG, PDF)")
    plots.add_argument("--metrics", required=True, type=Path, metavar="CSV", help="metrics table from 'aggregate'")
    plots.add_argument("--runs-dir", required=True, type=Path, metavar="DIR", help="directory containing every run")
    plots.add_argument("--out-dir", required=True, type=Path, metavar="DIR", help="directory to write the plots to")
    plots.set_defaults(handler=_run_plots)

    return parser


def _one_line(error: BaseException) -> str:
    return " ".join(line.strip() for line in str(error).splitlines() if line.strip())


def main(argv: list[str] | None = None) -> int:
    """Run one subcommand.

    Args:
        argv: the arguments after the program name (default: ``sys.argv[1:]``).

    Returns:
        The exit status: 0 on success (a diverged run included), 2 on
        invalid input, 75 when training stopped on SIGTERM or SIGINT after
        saving a checkpoint.
    """
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=args.log_level,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )

    try:
        args.handler(args)
    except TrainingInterrupted as error:
        print(f"{PROGRAM_NAME} {args.command}: {_one_line(error)}", file=sys.stderr)
        return EXIT_INTERRUPTED
    except (ValueError, FileNotFoundError) as error:
        # ConfigError subclasses ValueError. The traceback only shows at DEBUG,
        # so that a user sees the message, not the call stack.
        logger.debug("%s failed", args.command, exc_info=True)
        print(f"{PROGRAM_NAME} {args.command}: error: {_one_line(error)}", file=sys.stderr)
        return EXIT_INVALID_INPUT
    return 0
