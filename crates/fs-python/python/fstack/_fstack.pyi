"""Type stubs of the native module (fs-python): the layer ``fstack`` calls."""

from os import PathLike
from typing import Any, Callable, List, Optional, Sequence, Tuple, Union

_Path = Union[str, PathLike]
_Progress = Optional[Callable[[str, int, int], Any]]
#: (samples, width, height, channels, bits), samples in native byte order.
_RawFrame = Tuple[bytearray, int, int, int, int]
#: image, depth map, confidence map, notes, frame count.
_Stacked = Tuple[_RawFrame, Optional[_RawFrame], Optional[_RawFrame], List[str], int]

__version__: str

def stack_raw(frames: Sequence[bytes], width: int, height: int, channels: int, bits: int,
              stacker: str, options: str, progress: _Progress = None) -> _Stacked: ...
def stack_files(paths: Sequence[_Path], stacker: str, options: str,
                output: Optional[_Path] = None, overwrite: bool = False,
                progress: _Progress = None) -> _Stacked: ...
def run_job(path: _Path, skip_unsupported: bool = False,
            progress: _Progress = None) -> List[str]: ...
def discover(root: _Path, out_dir: _Path,
             split_gap: Optional[float] = None) -> List[Tuple[str, List[str], str]]: ...
def batch(root_or_manifest: _Path, out_dir: _Path, stacker: str, options: str,
          split_gap: Optional[float] = None, shard: Optional[Tuple[int, int]] = None,
          jobs: Optional[int] = None, memory_limit: Optional[str] = None,
          overwrite: bool = False, jpeg_quality: int = 95, exif: bool = True,
          progress: _Progress = None) -> List[str]: ...
def batch_stack(id: str, frames: Sequence[_Path], output: _Path, stacker: str, options: str,
                overwrite: bool = False, jpeg_quality: int = 95, exif: bool = True,
                log: Optional[_Path] = None) -> str: ...
def up_to_date(frames: Sequence[_Path], output: _Path) -> bool: ...
def read_frame(path: _Path) -> _RawFrame: ...
def write_frame(path: _Path, data: bytes, width: int, height: int, channels: int, bits: int,
                overwrite: bool = False) -> None: ...
