"""Dataflow Flex Template entry point: the launcher runs this file with the template's
parameters (metadata.json) and Dataflow's options as `--name=value` arguments."""

import json
import sys

from trackline.engines.beam.template import main

if __name__ == "__main__":
    print(json.dumps(main(sys.argv[1:]), default=str))
