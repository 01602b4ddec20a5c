"""python -m data {fetch,import,fixture} DATASET ... -- get datasets into the kit's cache folder.

Every module of this package that defines DATASETS (names) with `ensure(name, root)`,
`import_files(name, folder, root)` and `write_fixture(name, root)` is found by itself.
"""
import argparse
import importlib
import pkgutil
import sys
from pathlib import Path

from data import DatasetUnavailable, data_root


def dataset_modules() -> dict:
    """Dataset name -> the module that handles it."""
    found = {}
    for info in pkgutil.iter_modules([str(Path(__file__).parent)]):
        if info.name.startswith("_"):
            continue
        module = importlib.import_module(f"data.{info.name}")
        for name in getattr(module, "DATASETS", ()):
            found[name] = module
    return found


def main(argv=None) -> int:
    modules = dataset_modules()
    parser = argparse.ArgumentParser(prog="python -m data", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--root", help="dataset folder (default: $KIT_DATA_ROOT or data/cache)")
    commands = parser.add_subparsers(dest="command", required=True)
    fetch = commands.add_parser("fetch", help="download a dataset through torchvision")
    fetch.add_argument("dataset", choices=sorted(modules))
    local = commands.add_parser("import", help="copy a dataset's files from a local folder")
    local.add_argument("dataset", choices=sorted(modules))
    local.add_argument("folder")
    fixture = commands.add_parser("fixture", help="write a small synthetic copy (offline tests)")
    fixture.add_argument("dataset", choices=sorted(modules))
    args = parser.parse_args(argv)

    module = modules[args.dataset]
    try:
        if args.command == "fetch":
            root = module.ensure(args.dataset, args.root)
        elif args.command == "import":
            root = module.import_files(args.dataset, args.folder, args.root)
        else:
            root = module.write_fixture(args.dataset, data_root(args.root))
    except DatasetUnavailable as problem:
        print(f"error: {problem}", file=sys.stderr)
        return 1
    print(f"{args.dataset} is ready in {root}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
