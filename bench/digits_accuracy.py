"""Accuracy check: the classic CNN trained through Loom's training job on the shipped 8x8 digits
sample (stratified 70/10/20 split), beside a majority-class baseline from the same split.

    python bench/digits_accuracy.py [--quick]

Target (issue 5): >= 97 % test accuracy. The last line is ``digits_test_accuracy: N``.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="5 epochs instead of 60")
    args = parser.parse_args()

    from core.compute._context import inline_job
    from core.config import AppConfig
    from core.data import ingest_file
    from core.models import cnn_template
    from core.optimizers import OptimizerSpec
    from core.pipeline import PipelineSpec
    from core.store import open_store
    from core.training import TrainSpec
    from core.training import run_training

    store = open_store(AppConfig.for_data_dir(Path(tempfile.mkdtemp(prefix="loom-bench-digits-"))))
    ds = ingest_file(store, ROOT / "assets" / "digits_8x8.npz", "npz", "digits")
    split = {"type": "split", "method": "stratified", "validation": 0.1, "test": 0.2, "seed": 0}
    pipeline = PipelineSpec.chain(ds.id, "label", [split, {"type": "scale_images"}])
    spec = TrainSpec(
        pipeline=pipeline.to_dict(),
        model=cnn_template().to_dict(),
        optimizer=OptimizerSpec("adam", 1e-3).to_dict(),
        epochs=5 if args.quick else 60,
        batch_size=32,
        early_stopping=0,
    )
    with inline_job(store, "train", spec.to_dict()) as ctx:
        result = run_training(ctx, spec.to_dict())
    counts = [n for _, n in next(c for c in ds.profile_json["columns"] if c["name"] == "label")["top"]]
    print(f"rows: {result['rows']}")
    print(f"majority_class_baseline: {max(counts) / sum(counts):.3f}")
    print(f"digits_test_accuracy: {result['evaluation']['test_accuracy']:.4f}")


if __name__ == "__main__":
    main()
