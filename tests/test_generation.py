"""The generation pipeline (`symdiff_tf.generation`): one seed per melody whatever the batch, the graph ops for
rests, joins and notes against the melody layer's numpy, and `Pipeline` end to end on a tiny MusicVAE and a tiny
trained diffusion run (`tiny_run` in conftest.py)."""
import numpy as np
import pretty_midi
import pytest
import tensorflow as tf

from symdiff_tf import musicvae
from symdiff_tf.data.sources import synthetic_windows
from symdiff_tf.diffusion import schedulers
from symdiff_tf.diffusion.inference import open_run, rests_encoded
from symdiff_tf.generation import tokens
from symdiff_tf.generation.codec import LatentCodec
from symdiff_tf.generation.pipeline import Pipeline
from symdiff_tf.generation.song import parse_bars, song_window
from symdiff_tf.melody import file_to_chunks
from symdiff_tf.melody.chunks import NUM_CLASSES, rest_chunks
from symdiff_tf.melody.render import SECONDS_PER_STEP, tokens_to_notes
from conftest import TINY_KEPT_DIMS as KEPT_DIMS


@pytest.fixture(scope="module")
def generator(tiny_run):
    vae_path, run = tiny_run
    return Pipeline(open_run(run), musicvae.load(vae_path), batch_size=4)


@pytest.fixture(scope="module")
def pop909_windows(pop909_dir):
    """Chunks of three POP909 melodies `[n, 32]` each (files 002: 2 melodies, 8 and 15 chunks; 003: 32)."""
    return [chunks for name in ("002", "003") for chunks in file_to_chunks(pop909_dir / f"{name}.mid", "MELODY")]


@pytest.mark.parametrize("num_diffusion_steps", [20, 1000])
def test_spaced_steps_in_the_graph_are_numpys(num_diffusion_steps):
    steps_of = tf.function(lambda count: schedulers.spaced_timesteps(count, num_diffusion_steps),
                           input_signature=[tf.TensorSpec([], tf.int32)])
    for count in range(1, num_diffusion_steps + 1):
        expected = np.round(np.linspace(num_diffusion_steps, 1, count)).astype(np.int32)
        np.testing.assert_array_equal(steps_of(count), expected, err_msg=count)
        assert len(np.unique(expected)) == count


@pytest.mark.parametrize("scheduler, steps", [("ddpm", 20), ("ddpm", 5), ("ddim", 3), ("dpm-solver++", 4)])
def test_each_melody_is_its_own_batch_of_one(generator, scheduler, steps):
    sampler = generator.sampler
    seeds = [5, 9]
    batch = sampler.sample(seeds, scheduler, steps)
    alone = np.concatenate([sampler.sample([seed], scheduler, steps) for seed in seeds])
    np.testing.assert_allclose(batch, alone, atol=2e-5)
    assert not np.allclose(batch[0], batch[1])
    template = synthetic_windows(2, len(KEPT_DIMS), seed=7)
    keep = np.zeros((2, 32), np.float32)
    keep[:, :10] = 1
    keep[1, 20:] = 1
    infilled = sampler.infill(template, keep, seeds, scheduler, steps)
    alone = np.concatenate([sampler.infill(template[i:i + 1], keep[i], [seed], scheduler, steps)
                            for i, seed in enumerate(seeds)])
    np.testing.assert_allclose(infilled, alone, atol=2e-5)
    for i in range(2):  # the infilling loop gives back the kept chunks' latents exactly
        np.testing.assert_array_equal(infilled[i][keep[i] == 1], template[i][keep[i] == 1])
        assert not np.allclose(infilled[i][keep[i] == 0], template[i][keep[i] == 0])


def test_the_graph_pipeline_is_the_latent_samplers_loop(generator):
    """`Pipeline.sample` (one graph, the scheduler chosen inside it) gives the latents of `LatentSampler.sample`
    (one compiled loop per scheduler, run in progress spans)."""
    for name, steps in (("ddpm", 20), ("ddim", 3), ("dpm-solver++", 5)):
        spans = []
        melodies = generator.sample([3, 8], generator.options(scheduler=name, steps=steps))
        latents = generator.sampler.sample([3, 8], name, steps, progress=lambda done, total: spans.append(done))
        np.testing.assert_allclose(melodies.latents, latents, atol=2e-5, err_msg=name)
        assert spans[0] == 1 and spans[-1] == steps  # a first span of one step, then longer ones


def test_rest_flags_in_the_graph_are_the_melody_layers(pop909_windows):
    random = np.random.default_rng(0).integers(0, NUM_CLASSES, (64, 32))
    sparse = np.where(np.random.default_rng(1).random((64, 32)) < 0.8, 0, random)
    for chunks in [*pop909_windows, random, sparse]:
        np.testing.assert_array_equal(tokens.rest_flags(chunks.astype(np.int32)), rest_chunks(chunks))
    assert any(rest_chunks(chunks).any() for chunks in pop909_windows)


def _window(chunks):
    """The first 32 chunks of `chunks`, padded with "no event" chunks: `[1, 32, 32]` int32."""
    window = np.zeros((1, 32, 32), np.int32)
    window[0, :len(chunks[:32])] = chunks[:32]
    return window


def _graph_notes(joined):
    found = {key: np.asarray(value) for key, value in tokens.notes(joined).items()}
    n = found["num_notes"][0]
    return found["starts"][0, :n], found["ends"][0, :n], found["pitches"][0, :n]


def test_notes_and_joins_in_the_graph(pop909_windows):
    random = np.random.default_rng(2).integers(0, NUM_CLASSES, (1, 32, 32)).astype(np.int32)
    for window in [_window(chunks) for chunks in pop909_windows] + [random]:
        real = np.ones((1, 64), bool)
        decoded = np.zeros((1, 64), bool)
        mixed = np.random.default_rng(3).random((1, 64)) < 0.5
        # a real melody's own tokens join as the melody did; decoded chunks render one by one
        expected = {"real": tokens_to_notes(window[0], continuous=True),
                    "decoded": tokens_to_notes(window[0], continuous=False)}
        for name, bars in (("real", real), ("decoded", decoded), ("mixed", mixed)):
            joined = tokens.joined_tokens(window, bars)
            found = _graph_notes(joined)
            reference = expected.get(name, tokens_to_notes(np.asarray(joined)[0], continuous=True))
            for got, want in zip(found, reference):
                np.testing.assert_array_equal(got, want, err_msg=name)
    empty = tokens.notes(np.zeros((2, 32, 32), np.int32))
    assert empty["pitches"].shape == (2, 0) and list(empty["num_notes"]) == [0, 0]


def test_template_rests_follow_the_runs_training_data(generator, pop909_dir):
    window = song_window(pop909_dir / "001.mid", (1, 2), track="MELODY").tokens[None]
    rests = rest_chunks(window[0])
    assert 0 < rests.sum() < 32
    scaler = generator.model.scaler
    kept_mu = generator.encode(window)[0][0][:, list(KEPT_DIMS)]
    template = generator.template(window)[0]  # the tiny run's data (.npz) holds rests as zero latents
    np.testing.assert_allclose(template[rests], np.full((rests.sum(), len(KEPT_DIMS)), scaler.scale(0.0)), rtol=1e-6)
    np.testing.assert_allclose(template[~rests], scaler.scale(kept_mu[~rests]), rtol=1e-5, atol=1e-5)
    encoded = LatentCodec(generator.vae, scaler, zero_rests=False).template(window)[0]
    np.testing.assert_allclose(encoded, scaler.scale(kept_mu), rtol=1e-5, atol=1e-5)
    assert rests_encoded("tfds:lakh_midi/latents_0123abcd-beats-track_MELODY-split_pop909-rests_encoded@~/data")
    assert not any(rests_encoded(spec) for spec in ("tfds:lakh_midi/latents_0123abcd-beats@~/d", "w.npz", None))
    assert not generator.model.rests_encoded


def test_sampling_is_one_seed_per_melody(generator):
    ddim3 = generator.options(scheduler="ddim", steps=3)
    both = generator.sample([4, 11], ddim3)
    again = generator.sample([4, 11], ddim3)
    alone = generator.sample([11], ddim3)
    np.testing.assert_array_equal(both.tokens, again.tokens)
    np.testing.assert_array_equal(both.tokens[1], alone.tokens[0])
    np.testing.assert_allclose(both.latents[1], alone.latents[0], atol=2e-5)
    assert (both.tokens[0] != both.tokens[1]).mean() > 0.2
    assert both.tokens.shape == (2, 32, 32) and both.latents.shape == (2, 32, len(KEPT_DIMS))
    default = generator.options()  # the run's default: its sampling.method (tiny.yaml: ddpm) over all 20 steps
    assert (default.scheduler, default.steps) == ("ddpm", 20)
    assert (generator.sample([4]).tokens != both.tokens[:1]).any()


def test_options_have_one_set_of_defaults(generator):
    assert generator.options(scheduler="ddim") == generator.options(scheduler="ddim", steps=5, eta=0.0)
    assert generator.options(scheduler="dpm-solver++").steps == 20
    assert generator.options(scheduler="ddim", eta=0.5).describe() == "ddim, 5 steps, eta 0.5, temperature 0"


def test_temperature_samples_the_decoder_reproducibly(generator):
    greedy = generator.sample([6], generator.options(scheduler="ddim", steps=3))
    warm_options = generator.options(scheduler="ddim", steps=3, temperature=1.0)
    warm = generator.sample([6], warm_options)
    np.testing.assert_array_equal(warm.tokens, generator.sample([6], warm_options).tokens)
    np.testing.assert_array_equal(warm.latents, greedy.latents)
    assert (warm.tokens != greedy.tokens).mean() > 0.2


def test_decode_of_sampled_latents_is_sample_with_seed_0(generator):
    sampled = generator.sample([0, 0], generator.options(scheduler="ddim", steps=3, temperature=0.7))
    np.testing.assert_array_equal(generator.decode(sampled.latents, temperature=0.7).tokens, sampled.tokens)


@pytest.mark.parametrize("bars", ["17-48", "18-47"])
def test_infill_gives_back_the_kept_bars_of_the_song(generator, pop909_dir, bars):
    window = song_window(pop909_dir / "003.mid", parse_bars(bars), track="MELODY")
    filled = generator.infill(window.tokens, window.keep_bars, [21], generator.options(scheduler="ddim", steps=3))
    kept_steps = np.repeat(window.keep_bars, 16).reshape(32, 32)
    np.testing.assert_array_equal(filled.tokens[0][kept_steps], window.tokens[kept_steps])
    assert (filled.tokens[0][~kept_steps] != window.tokens[~kept_steps]).any()
    # every note starting in a run of kept bars is the song's, ending where the song's does or where the run ends
    song_notes = tokens_to_notes(window.tokens, continuous=True)
    notes = filled.notes(0)
    for first, stop in ((0, 16), (48, 64)) if bars == "17-48" else ((0, 17), (47, 64)):
        def in_run(found):
            starts, ends, pitches = found
            inside = (starts >= first * 16) & (starts < stop * 16)
            return starts[inside], np.minimum(ends[inside], stop * 16), pitches[inside]
        for got, want in zip(in_run(notes), in_run(song_notes)):
            np.testing.assert_array_equal(got, want)


def test_infill_continues_a_short_song(generator, pop909_dir):
    window = song_window(pop909_dir / "002.mid", (31, 64), track="MELODY", melody=1)
    filled = generator.infill(window.tokens, window.keep_bars, [2], generator.options(scheduler="dpm-solver++",
                                                                                      steps=3))
    np.testing.assert_array_equal(filled.tokens[0][:15], window.tokens[:15])
    assert filled.tokens[0][15:].any()
    np.testing.assert_array_equal(filled.real_bars[0], window.keep_bars)


def test_written_files_hold_the_notes(generator, tmp_path):
    melodies = generator.sample([1, 2], generator.options(scheduler="ddim", steps=3))
    written = melodies.write(tmp_path, ["one", "two"])
    assert sorted(path.name for path in written) == ["one.mid", "one.png", "pianorolls.png", "two.mid", "two.png"]
    for index, name in enumerate(["one", "two"]):
        starts, ends, pitches = melodies.notes(index)
        read = pretty_midi.PrettyMIDI(str(tmp_path / f"{name}.mid")).instruments[0].notes
        assert len(read) == len(pitches) > 10
        np.testing.assert_array_equal([note.pitch for note in read], pitches)
        np.testing.assert_allclose([note.start for note in read], starts * SECONDS_PER_STEP, atol=1e-6)
        np.testing.assert_allclose([note.end for note in read], ends * SECONDS_PER_STEP, atol=1e-6)


@pytest.mark.parametrize("call, message", [
    (lambda g: g.options(steps=21), r"--steps 21: expected 1..20"),
    (lambda g: g.options(steps=0), r"--steps 0: expected 1..20"),
    (lambda g: g.options(temperature=-0.5), "--temperature -0.5: expected a finite number >= 0"),
    (lambda g: g.options(scheduler="ddpm", eta=0.5), "--eta 0.5: the ddpm scheduler has no eta"),
    (lambda g: g.options(scheduler="euler"), "--scheduler 'euler': expected one of ddpm, ddim, dpm-solver"),
    (lambda g: g.options(scheduler="ddim", eta=-1), "--eta -1: expected a number >= 0"),
    (lambda g: g.sample([]), "seeds must be a non-empty list of ints"),
    (lambda g: g.infill(np.zeros((32, 32), int), np.ones(32, bool), [1]), "regenerate at least one"),
    (lambda g: g.infill(np.zeros((32, 31), int), np.arange(32) < 3, [1]), r"tokens must be ints \[batch, 32, 32\]"),
    (lambda g: g.infill(np.full((32, 32), 90), np.arange(32) < 3, [1]), "class indices 0..89"),
    (lambda g: g.infill(np.zeros((2, 32, 32), int), np.arange(32) < 3, [1]), "1 seeds for 2 melodies"),
    (lambda g: g.decode(np.zeros((1, 32, 3), np.float32)), r"latents must be \[batch, 32, 4\]"),
])
def test_bad_inputs_say_what_was_expected(generator, call, message):
    with pytest.raises(ValueError, match=message):
        call(generator)
