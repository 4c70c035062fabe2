#!/usr/bin/env bash
# The trainer's GPU checks and benchmark, as one script for a lent GPU machine (whose python3 holds a CUDA
# PyTorch, scikit-learn and Lightning, but not pydantic: carry it as wheels, see the device README).
#   bash bench/cuda.sh OUTDIR
# 1. the CUDA-marked tests (bf16 training, bf16 vs fp32, a W2 epoch, resume on the GPU);
# 2. bench/trainer.py on the GPU → bench/results/trainer_cuda.json;
# 3. the trainer, diagnosis and scenario suites with device "auto", i.e. on the GPU;
# 4. tests/service/test_gpu.py on the embedded stack (`make run`'s process tree): jobs, a diagnosis
#    and a landscape trained and computed on the GPU in forked processes. It needs the service's
#    runtime packages the image lacks, carried as cp312 wheels too (the closure of pyproject's
#    dependencies minus the image's package list in KINDS.md).
# Only torch-level tests run: --confcutdir keeps tests/conftest.py (the service stack, which needs
# PostgreSQL, Redis and the service's packages) out, and the sibling folders' conftests in.
set -uo pipefail
out=${1:-.}
export PYTHONPATH="$PWD:$PWD/sdk${PYTHONPATH:+:$PYTHONPATH}" PYTHONUNBUFFERED=1
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv | tee "$out/gpu.txt"
python3 -c "import torch, sklearn; print('torch', torch.__version__, 'sklearn', sklearn.__version__, torch.cuda.get_device_name())" | tee -a "$out/gpu.txt"
pytest=(python3 -m pytest --confcutdir=tests/trainer -p no:cacheprovider)
"${pytest[@]}" -m cuda tests/trainer -s -v -rA 2>&1 | tee "$out/pytest_cuda.log"
python3 -m bench.trainer --device cuda 2>&1 | tee "$out/bench_cuda.log"
cp bench/results/trainer_cuda.json "$out/"
timeout "${SUITE_SECONDS:-240}" "${pytest[@]}" tests/trainer tests/diagnose tests/scenarios -q -rf 2>&1 |
    tee "$out/pytest_suites_on_gpu.log"
python3 -m pytest -p no:cacheprovider tests/service/test_gpu.py -k embedded -v -rfE 2>&1 | tee "$out/pytest_service_on_gpu.log"
