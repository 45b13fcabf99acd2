"""Stack one folder with ShineStacker, for `cargo xtask bench --peers`.

usage: shinestacker_stack.py WORKING_DIR INPUT_SUBDIR OUTPUT_SUBDIR pyramid|depthmap
"""
import sys

from shinestacker.algorithms import DepthMapStack, FocusStack, PyramidStack, StackJob


def main():
    working, input_subdir, output_subdir, algo = sys.argv[1:5]
    stacker = {"pyramid": PyramidStack, "depthmap": DepthMapStack}[algo]()
    job = StackJob("bench", working, input_path=input_subdir)
    job.add_action(FocusStack(output_subdir, stacker, exif_path=""))
    job.run()


if __name__ == "__main__":
    main()
