"""The vision face models on a GPU: run this on a machine with an NVIDIA GPU.

    pip install onnxruntime-gpu==1.32.0          # in place of onnxruntime, on the GPU machine
    .venv/bin/python -m benchmarks.gpu_vision                      # in-process, CUDA
    .venv/bin/python -m benchmarks.gpu_vision --triton-url HOST:8001  # a GPU Triton too

It measures, on the bundled sample (samples/face.mp4 at 10 fps, 90 frames):

1. model calls alone, ONNX Runtime's CUDA provider: ms per image and images/s for the
   detector and the mesh at batch 1, 8, 32 (the batches Triton's dynamic batcher forms when
   streams meet);
2. the vision pipeline per frame (crops, geometry, pupils on the CPU; models on the GPU) in
   this process, against the same pipeline on the CPU provider, same run;
3. with `--triton-url`: the service's path against a Triton that serves
   models/repository with `--model-config-name=gpu` (the Helm chart's GPU values: the
   official image's ONNX Runtime backend, KIND_GPU instances), plus many streams at once
   (threads, one client each) for frames/s.

It writes benchmarks/results/<date>-<machine>-gpu-vision.md naming the GPU (nvidia-smi) and
refuses to call a CPU run a GPU run: without the CUDA provider it stops, unless
`--allow-cpu` (a dry run of the script itself, labelled CPU in the file).
"""

from __future__ import annotations

import argparse
import datetime as dt
import statistics
import subprocess
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from benchmarks import procs
from benchmarks.vision_pipeline import RESULTS, model_calls, sample_frames, write_results

CUDA = "CUDAExecutionProvider"
CPU = "CPUExecutionProvider"


def gpu_name() -> str:
    try:
        out = subprocess.run(
            ["nvidia-smi", "--query-gpu=name,memory.total,driver_version", "--format=csv,noheader"],
            capture_output=True,
            text=True,
            timeout=20,
            check=True,
        )
        return out.stdout.strip().replace("\n", "; ")
    except (OSError, subprocess.SubprocessError):
        return ""


def pipeline_ms(frames: list[Any], models: Any, repeats: int) -> float:
    """Median wall ms per frame of the vision pipeline with `models`."""
    from services.vision.analyzer import measure
    from services.vision.neural_face import NeuralFaceTracker

    measure(frames[:16], NeuralFaceTracker(models))  # warm-up
    runs = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        measure(frames, NeuralFaceTracker(models))
        runs.append((time.perf_counter() - t0) * 1000 / len(frames))
    return statistics.median(runs)


def streams_fps(frames: list[Any], models: Any, streams: int) -> float:
    """Frames per second over `streams` concurrent streams (one thread and tracker each)."""
    from services.vision.analyzer import measure
    from services.vision.neural_face import NeuralFaceTracker

    t0 = time.perf_counter()
    with ThreadPoolExecutor(max_workers=streams) as pool:
        list(pool.map(lambda _: measure(frames, NeuralFaceTracker(models)), range(streams)))
    return streams * len(frames) / (time.perf_counter() - t0)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--triton-url", default=None, help="a GPU Triton serving the models")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--streams", type=int, default=8)
    parser.add_argument("--allow-cpu", action="store_true", help="dry run without a GPU")
    parser.add_argument("--machine", default=None)
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args(argv)

    import onnxruntime as ort

    from services.vision.neural_face import OnnxFaceModels, TritonFaceModels

    available = ort.get_available_providers()
    on_gpu = CUDA in available
    if not on_gpu and not args.allow_cpu:
        raise SystemExit(
            f"no {CUDA} in onnxruntime ({', '.join(available)}): install onnxruntime-gpu on a "
            "GPU machine, or pass --allow-cpu for a dry run (labelled CPU)"
        )
    device = gpu_name() if on_gpu else ""
    machine = procs.machine()
    label = args.machine or machine["hostname"]
    frames = sample_frames()
    accelerated = OnnxFaceModels(providers=(CUDA, CPU) if on_gpu else (CPU,))
    cpu_models = OnnxFaceModels()
    lines = [
        f"# Vision face models on {'GPU: ' + device if on_gpu else 'CPU (dry run, no GPU)'} "
        f"({dt.date.today().isoformat()})",
        "",
        f"Machine `{label}` ({machine['cpu_model']}, {machine['cores']} cores); load average "
        f"{', '.join(map(str, procs.load_average()))}; onnxruntime {ort.__version__} providers "
        f"{', '.join(available)}. `python -m benchmarks.gpu_vision`.",
        "",
        "## Model calls alone",
        "",
        "| provider | model | batch | ms per image |",
        "| --- | --- | ---: | ---: |",
    ]
    provider = "CUDA" if on_gpu else "CPU"
    # 3 warm-ups: CUDA kernels and memory pools
    for name, batch, ms in model_calls(accelerated, (1, 8, 32), args.repeats, warmups=3):
        lines.append(f"| {provider} | {name} | {batch} | {ms:.3f} |")
    lines += [
        "",
        "## Vision pipeline per frame (90 frames of samples/face.mp4)",
        "",
        "| models | wall ms/frame |",
        "| --- | ---: |",
        f"| in-process, {provider} | {pipeline_ms(frames, accelerated, args.repeats):.2f} |",
        f"| in-process, CPU (same run) | {pipeline_ms(frames, cpu_models, args.repeats):.2f} |",
        f"| {args.streams} streams at once, {provider}: frames/s | "
        f"{streams_fps(frames, accelerated, args.streams):.0f} |",
    ]
    if args.triton_url:
        served = TritonFaceModels(args.triton_url, timeout_s=60)
        problem = served.problem()
        if problem:
            raise SystemExit(f"Triton at {args.triton_url}: {problem}")
        lines += [
            f"| Triton at {args.triton_url} (the service's path) | "
            f"{pipeline_ms(frames, served, args.repeats):.2f} |",
            f"| {args.streams} streams at once through Triton: frames/s | "
            f"{streams_fps(frames, served, args.streams):.0f} |",
        ]
    text = "\n".join(lines) + "\n"
    suffix = "gpu-vision" if on_gpu else "cpu-dry-run-vision"
    write_results(text, args.out or RESULTS / f"{dt.date.today().isoformat()}-{label}-{suffix}.md")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
