"""Magenta side of benchmarks/musicvae_speed.py (run under Keras 2 via `run_magenta_script`).

    musicvae_speed.py CHECKPOINT_PREFIX INPUTS.npz OUT.npz --base cat-mel_2bar_big --batches 1,64,1024

INPUTS.npz holds `z_<batch>` latents and `tokens_<batch>` chunks for each batch size. For each batch size a
TrainedModel is built at that batch size; after one untimed call, `decode_to_tensors` (greedy: temperature 1e-6)
and `encode_tensors` are timed over `repeats` calls (fewer for large batches). OUT.npz gets `greedy_<batch>`,
`decode_seconds_<batch>`, `encode_seconds_<batch>` (seconds per call, the minimum over repeats).
"""
import argparse
import sys
import time

import numpy as np
import tensorflow.compat.v1 as tf
from magenta.models.music_vae import TrainedModel, configs

SEQ_LEN = 32


def best_time(function, repeats):
    times = []
    result = None
    for _ in range(repeats):
        start = time.perf_counter()
        result = function()
        times.append(time.perf_counter() - start)
    return min(times), result


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("checkpoint")
    parser.add_argument("inputs")
    parser.add_argument("out")
    parser.add_argument("--base", default="cat-mel_2bar_big")
    parser.add_argument("--batches", default="1,64,1024")
    parser.add_argument("--work-per-batch", type=float, default=64.0,
                        help="chunks to process per measurement and batch size (at least one call)")
    args = parser.parse_args()
    tf.disable_v2_behavior()
    tf.logging.set_verbosity(tf.logging.ERROR)
    config = configs.CONFIG_MAP[args.base]
    inputs = np.load(args.inputs)
    results = {}
    for batch in [int(b) for b in args.batches.split(",")]:
        z, tokens = inputs[f"z_{batch}"], inputs[f"tokens_{batch}"]
        model = TrainedModel(config, batch_size=batch, checkpoint_dir_or_path=args.checkpoint)
        one_hot = [np.eye(90, dtype=np.float32)[t] for t in tokens]
        repeats = max(1, int(args.work_per_batch // batch))
        warm = batch <= 64  # a batch of 1024 takes tens of seconds: its first call is the measurement
        if warm:
            model.decode_to_tensors(z, length=SEQ_LEN, temperature=1e-6)
            model.encode_tensors(list(one_hot), [SEQ_LEN] * batch)
        seconds, decoded = best_time(lambda: model.decode_to_tensors(z, length=SEQ_LEN, temperature=1e-6), repeats)
        results[f"greedy_{batch}"] = np.stack(decoded).argmax(-1)
        results[f"decode_seconds_{batch}"] = seconds
        seconds, _ = best_time(lambda: model.encode_tensors(list(one_hot), [SEQ_LEN] * batch), repeats)
        results[f"encode_seconds_{batch}"] = seconds
        print(f"magenta batch {batch}: decode {batch / results[f'decode_seconds_{batch}']:.2f} chunks/s, "
              f"encode {batch / seconds:.2f} chunks/s", flush=True)
        model._sess.close()  # pylint: disable=protected-access
    np.savez(args.out, **results)
    return 0


if __name__ == "__main__":
    sys.exit(main())
