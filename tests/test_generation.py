"""The generation path (`symdiff_tf.generation`): one seed per melody drawn as `DiffusionSampler` draws a batch of
one, the graph ops for rests, joins and notes against the melody layer's numpy, a user's song as an infilling
window, and the library's `Generator` end to end on a tiny MusicVAE and a tiny trained diffusion run."""
import numpy as np
import pretty_midi
import pytest
import tensorflow as tf

from symdiff_tf import cli, musicvae
from symdiff_tf.data.scaler import LatentScaler
from symdiff_tf.data.sources import synthetic_windows
from symdiff_tf.diffusion.samplers import ddim_timesteps
from symdiff_tf.generation import noise, sampler, tokens
from symdiff_tf.generation.codec import LatentCodec
from symdiff_tf.generation.generator import Generator
from symdiff_tf.generation.run import rests_encoded
from symdiff_tf.generation.song import parse_bars, song_window
from symdiff_tf.melody import file_to_chunks
from symdiff_tf.melody.chunks import NUM_CLASSES, rest_chunks
from symdiff_tf.melody.render import SECONDS_PER_STEP, tokens_to_notes
from symdiff_tf.paths import REPO_ROOT

TINY = str(REPO_ROOT / "configs" / "tiny.yaml")
KEPT_DIMS = (0, 2, 5, 6)  # of the tiny VAE's 8; the other four are refilled before decoding


def make_tiny_run(root):
    """A tiny MusicVAE file and a diffusion run trained for 2 steps by `symdiff train`, with its latent scaling.
    Returns (vae path, run directory)."""
    import keras

    keras.utils.set_random_seed(3)
    vae = musicvae.build_model("tiny")
    rng = np.random.default_rng(4)
    for variable in vae.trainable_variables:  # large weights: every latent decodes to another melody
        variable.assign(rng.normal(0.0, 1.0, variable.shape).astype(np.float32))
    more_holds = np.eye(NUM_CLASSES, dtype=np.float32)[0] * 3.0  # "no event" often: notes of many lengths
    vae.output_projection.bias.assign(vae.output_projection.bias + more_holds)
    vae.save(root / "vae.keras")
    data = root / "windows.npz"
    np.savez(data, train=synthetic_windows(24, len(KEPT_DIMS), seed=2))
    run = root / "ddpm"
    assert cli.main(["train", "--config", TINY, "--data", str(data), "--workdir", str(run), "--max-steps", "2",
                     "--no-progress", "--set", f"ddpm.model.latent_dim={len(KEPT_DIMS)}"]) == 0
    LatentScaler(KEPT_DIMS, z_size=vae.z_size, minimum=-2.5, maximum=2.0).save(run)
    return root / "vae.keras", run


@pytest.fixture(scope="module")
def generator(tmp_path_factory):
    vae_path, run = make_tiny_run(tmp_path_factory.mktemp("generation"))
    return Generator.from_files(vae_path, run, batch_size=4)


@pytest.fixture(scope="module")
def pop909_windows(pop909_dir):
    """Chunks of three POP909 melodies `[n, 32]` each (files 002: 2 melodies, 8 and 15 chunks; 003: 32)."""
    return [chunks for name in ("002", "003") for chunks in file_to_chunks(pop909_dir / f"{name}.mid", "MELODY")]


@pytest.mark.parametrize("num_diffusion_steps", [20, 1000])
def test_ddim_steps_in_the_graph_are_the_librarys(num_diffusion_steps):
    steps_of = tf.function(lambda count: sampler.ddim_timesteps(count, num_diffusion_steps),
                           input_signature=[tf.TensorSpec([], tf.int32)])
    for count in range(1, num_diffusion_steps + 1):
        np.testing.assert_array_equal(steps_of(count), ddim_timesteps(count, num_diffusion_steps), err_msg=count)


def test_each_melody_is_the_library_samplers_batch_of_one(generator):
    seeded, library = generator.sampler, generator.run.sampler
    seeds = [5, 9]
    pairs = noise.seed_pairs(seeds)
    form = generator.run.config.sampling.ddpm_form
    runs = {
        seeded.num_steps: (seeded.sample(pairs, seeded.num_steps),
                           [library.ddpm(1, seed, ddpm_form=form) for seed in seeds]),
        3: (seeded.sample(pairs, 3), [library.ddim(1, seed, num_steps=3, eta=seeded.ddim_eta) for seed in seeds]),
    }
    template = synthetic_windows(2, len(KEPT_DIMS), seed=7)
    mask = np.zeros((2, 32), bool)
    mask[:, :10] = True
    mask[1, 20:] = True
    infilled = {
        seeded.num_steps: (seeded.infill(template, mask, pairs, seeded.num_steps),
                           [library.infill(template[i:i + 1], mask[i], seed, ddpm_form=form)
                            for i, seed in enumerate(seeds)]),
        4: (seeded.infill(template, mask, pairs, 4),
            [library.ddim_infill(template[i:i + 1], mask[i], seed, num_steps=4, eta=seeded.ddim_eta)
             for i, seed in enumerate(seeds)]),
    }
    for steps, (batch, alone) in [*runs.items(), *infilled.items()]:
        np.testing.assert_allclose(batch, np.concatenate(alone), atol=2e-5, err_msg=f"{steps} steps")
    for i in range(2):
        np.testing.assert_array_equal(np.asarray(infilled[4][0])[i][mask[i]], template[i][mask[i]])
    assert not np.allclose(runs[3][0][0], runs[3][0][1])


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


def test_song_window_keeps_the_bars_around_the_gap(pop909_dir):
    song = pop909_dir / "003.mid"
    chunks = file_to_chunks(song, "MELODY")[0]
    window = song_window(song, parse_bars("17-48"), track="MELODY")
    np.testing.assert_array_equal(window.tokens, chunks[:32])
    assert window.input_bars == 64 and window.track == "MELODY"
    np.testing.assert_array_equal(np.flatnonzero(~window.keep_bars), np.arange(16, 48))
    short = song_window(pop909_dir / "002.mid", (9, 12), track="MELODY", melody=1)
    assert short.input_bars == 30
    np.testing.assert_array_equal(short.tokens[:15], file_to_chunks(pop909_dir / "002.mid", "MELODY")[1])
    assert not short.tokens[15:].any()
    np.testing.assert_array_equal(np.flatnonzero(short.keep_bars), [*range(8), *range(12, 30)])
    later = song_window(song, (40, 41), track="MELODY", start_bar=3)
    np.testing.assert_array_equal(later.tokens[:31], chunks[1:32])
    assert later.input_bars == 62 and not later.keep_bars[37:39].any() and later.keep_bars[36]


@pytest.mark.parametrize("bars, options, message", [
    ("0-4", {}, "1 <= A <= B"),
    ("10-5", {}, "1 <= A <= B"),
    ("x", {}, "expected A-B"),
    ("60-70", {}, "the model sees 64 bars, here 1-64"),
    ("5-8", {"start_bar": 2}, "odd bar"),
    ("5-8", {"melody": 3}, "has 2 melodies"),
])
def test_song_window_says_what_is_wrong(pop909_dir, bars, options, message):
    with pytest.raises(ValueError, match=message):
        song_window(pop909_dir / "002.mid", parse_bars(bars), track="MELODY", **options)


def test_template_rests_follow_the_runs_training_data(generator, pop909_dir):
    window = song_window(pop909_dir / "001.mid", (1, 2), track="MELODY").tokens[None]
    rests = rest_chunks(window[0])
    assert 0 < rests.sum() < 32
    scaler = generator.run.scaler
    kept_mu = generator.encode(window)[0][0][:, list(KEPT_DIMS)]
    template = generator.template(window)[0]  # the tiny run's data (.npz) holds rests as zero latents
    np.testing.assert_allclose(template[rests], np.full((rests.sum(), len(KEPT_DIMS)), scaler.scale(0.0)), rtol=1e-6)
    np.testing.assert_allclose(template[~rests], scaler.scale(kept_mu[~rests]), rtol=1e-5, atol=1e-5)
    encoded = LatentCodec(generator.vae, scaler, zero_rests=False).template(window)[0]
    np.testing.assert_allclose(encoded, scaler.scale(kept_mu), rtol=1e-5, atol=1e-5)
    assert rests_encoded("tfds:lakh_midi/latents_0123abcd-beats-track_MELODY-split_pop909-rests_encoded@~/data")
    assert not any(rests_encoded(spec) for spec in ("tfds:lakh_midi/latents_0123abcd-beats@~/d", "w.npz", None))
    assert not generator.run.rests_encoded


def test_sampling_is_one_seed_per_melody(generator):
    both = generator.sample([4, 11], steps=3)
    again = generator.sample([4, 11], steps=3)
    alone = generator.sample([11], steps=3)
    np.testing.assert_array_equal(both.tokens, again.tokens)
    np.testing.assert_array_equal(both.tokens[1], alone.tokens[0])
    np.testing.assert_allclose(both.latents[1], alone.latents[0], atol=2e-5)
    assert (both.tokens[0] != both.tokens[1]).mean() > 0.2
    assert both.tokens.shape == (2, 32, 32) and both.latents.shape == (2, 32, len(KEPT_DIMS))
    ddpm = generator.sample([4], steps=None)  # the run's default: DDPM over all 20 steps
    assert generator.default_steps == 20 and (ddpm.tokens != both.tokens[:1]).any()


def test_temperature_samples_the_decoder_reproducibly(generator):
    greedy = generator.sample([6], steps=3)
    warm = generator.sample([6], steps=3, temperature=1.0)
    np.testing.assert_array_equal(warm.tokens, generator.sample([6], steps=3, temperature=1.0).tokens)
    np.testing.assert_array_equal(warm.latents, greedy.latents)
    assert (warm.tokens != greedy.tokens).mean() > 0.2


def test_decode_of_sampled_latents_is_sample_with_seed_0(generator):
    sampled = generator.sample([0, 0], steps=3, temperature=0.7)
    np.testing.assert_array_equal(generator.decode(sampled.latents, temperature=0.7).tokens, sampled.tokens)


@pytest.mark.parametrize("bars", ["17-48", "18-47"])
def test_infill_gives_back_the_kept_bars_of_the_song(generator, pop909_dir, bars):
    window = song_window(pop909_dir / "003.mid", parse_bars(bars), track="MELODY")
    filled = generator.infill(window.tokens, window.keep_bars, [21], steps=3)
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
    filled = generator.infill(window.tokens, window.keep_bars, [2], steps=3)
    np.testing.assert_array_equal(filled.tokens[0][:15], window.tokens[:15])
    assert filled.tokens[0][15:].any()
    np.testing.assert_array_equal(filled.real_bars[0], window.keep_bars)


def test_written_files_hold_the_notes(generator, tmp_path):
    melodies = generator.sample([1, 2], steps=3)
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
    (lambda g: g.sample([1], steps=21), "steps must lie in 1..20"),
    (lambda g: g.sample([1], steps=0), "steps must lie in 1..20"),
    (lambda g: g.sample([1], temperature=-0.5), "temperature must be a finite number >= 0"),
    (lambda g: g.sample([]), "seeds must be a non-empty list of ints"),
    (lambda g: g.infill(np.zeros((32, 32), int), np.ones(32, bool), [1]), "regenerate at least one bar"),
    (lambda g: g.infill(np.zeros((32, 32), int), np.arange(64) == 3, [1]), "keep at least one whole chunk"),
    (lambda g: g.infill(np.zeros((32, 31), int), np.arange(32) < 3, [1]), r"tokens must be ints \[batch, 32, 32\]"),
    (lambda g: g.infill(np.full((32, 32), 90), np.arange(32) < 3, [1]), "class indices 0..89"),
    (lambda g: g.infill(np.zeros((2, 32, 32), int), np.arange(32) < 3, [1]), "1 seeds for 2 melodies"),
    (lambda g: g.decode(np.zeros((1, 32, 3), np.float32)), r"latents must be \[batch, 32, 4\]"),
])
def test_bad_inputs_say_what_was_expected(generator, call, message):
    with pytest.raises(ValueError, match=message):
        call(generator)
