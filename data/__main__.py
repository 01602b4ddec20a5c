"""python -m data {fetch,import,fixture} DATASET ... -- get datasets into the kit's cache folder."""
import argparse
import sys

from data import DatasetUnavailable, data_root, mnist

LOCAL_IMPORTERS = {"mnist": mnist, "fashion_mnist": mnist}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m data", description=__doc__)
    parser.add_argument("--root", help="dataset folder (default: $KIT_DATA_ROOT or data/cache)")
    commands = parser.add_subparsers(dest="command", required=True)
    fetch = commands.add_parser("fetch", help="download a dataset through torchvision")
    fetch.add_argument("dataset", choices=sorted(LOCAL_IMPORTERS))
    local = commands.add_parser("import", help="copy a dataset's files from a local folder")
    local.add_argument("dataset", choices=sorted(LOCAL_IMPORTERS))
    local.add_argument("folder")
    fixture = commands.add_parser("fixture", help="write a small synthetic copy (offline tests)")
    fixture.add_argument("dataset", choices=sorted(LOCAL_IMPORTERS))
    args = parser.parse_args(argv)

    module = LOCAL_IMPORTERS[args.dataset]
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
