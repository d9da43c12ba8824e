"""What the training loop promises: it learns, it resumes exactly, it stops cleanly, it says no."""

import math
import os

import matplotlib
import pytest
import torch
from torch import nn

from imgen import train
from imgen.checkpoint import CheckpointError, load_checkpoint, save_checkpoint
from imgen.data import ImageData
from imgen.models import build_model
from imgen.train import History, amp_settings, evaluate, fit, select_device

matplotlib.use("Agg")


def tiny_images(n=16, size=8, seed=0):
    return torch.randint(
        0, 256, (n, 1, size, size), generator=torch.Generator().manual_seed(seed), dtype=torch.uint8
    )


class TinyAutoencoder(nn.Module):
    """A small dense autoencoder with dropout that can raise Ctrl-C on its ``interrupt_at`` step."""

    def __init__(self, interrupt_at=None, hidden=8):
        super().__init__()
        torch.manual_seed(1)
        self.net = nn.Sequential(
            nn.Flatten(),
            nn.Linear(64, hidden),
            nn.ReLU(),
            nn.Dropout(0.2),
            nn.Linear(hidden, 64),
            nn.Sigmoid(),
            nn.Unflatten(1, (1, 8, 8)),
        )
        self.interrupt_at, self.steps = interrupt_at, 0

    def forward(self, x):
        if self.training:
            self.steps += 1
            if self.steps == self.interrupt_at:
                raise KeyboardInterrupt
        return self.net(x)


class Recorder(nn.Module):
    """Returns its input times one learnable number, and keeps every input it saw."""

    def __init__(self):
        super().__init__()
        self.scale = nn.Parameter(torch.ones(()))
        self.seen = []

    def forward(self, x):
        self.seen.append(x.detach().clone())
        return x * self.scale


def weights(model):
    return {name: tensor.clone() for name, tensor in model.state_dict().items()}


def same_weights(a, b):
    return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


QUIET = dict(progress=False, device="cpu")


def test_loss_falls_on_a_tiny_set():
    torch.manual_seed(0)
    model = build_model("basic", in_shape=(1, 8, 8), latent=4)
    history = fit(model, tiny_images(), epochs=30, batch_size=8, lr=1e-2, **QUIET)
    assert history.epochs_done == 30
    assert history.train_loss[-1] < history.train_loss[0] / 2


def test_complete_task_feeds_occluded_inputs_and_scores_against_originals():
    images = tiny_images(4).float() / 255
    model = Recorder()
    mse = evaluate(model, images, task="complete", occlusion="bottom", device="cpu")
    (seen,) = model.seen
    assert torch.equal(seen[:, :, 4:], torch.zeros(4, 1, 4, 8))
    assert torch.equal(seen[:, :, :4], images[:, :, :4])
    hidden_error = (images[:, :, 4:] ** 2).sum() / images.numel()
    assert mse == pytest.approx(hidden_error.item(), rel=1e-6)


def test_complete_task_trains_on_occluded_inputs():
    model = Recorder()
    fit(model, tiny_images(8), task="complete", occlusion="top", batch_size=8, **QUIET)
    (seen,) = model.seen
    assert torch.equal(seen[:, :, :4], torch.zeros(8, 1, 4, 8))
    assert seen[:, :, 4:].sum() > 0


def test_evaluate_is_the_exact_mean_over_all_pixels_with_a_ragged_last_batch():
    images = tiny_images(7).float() / 255
    model = Recorder()
    with torch.no_grad():
        model.scale.fill_(0.5)
    expected = ((images * 0.5 - images) ** 2).mean().item()
    assert evaluate(model, images, batch_size=3, device="cpu") == pytest.approx(expected, rel=1e-6)


class GreyToColour(nn.Module):
    """Three channels for a grey image (0.5x, 1x, 1.5x it), as article D's MNIST model gave."""

    def __init__(self):
        super().__init__()
        self.scale = nn.Parameter(torch.tensor([0.5, 1.0, 1.5]).view(1, 3, 1, 1))

    def forward(self, x):
        return x * self.scale


def test_three_channels_scored_against_a_grey_target_compare_each_channel_with_it():
    images = tiny_images(7).float() / 255
    expected = ((images * torch.tensor([0.5, 1.0, 1.5]).view(1, 3, 1, 1) - images) ** 2).mean()
    assert evaluate(GreyToColour(), images, batch_size=3, device="cpu") == pytest.approx(
        expected.item(), rel=1e-6
    )
    assert fit(GreyToColour(), images, epochs=1, batch_size=4, **QUIET).train_loss


def test_uint8_and_float_inputs_train_identically():
    images = tiny_images()
    runs = []
    for data in (images, images.float() / 255):
        model = TinyAutoencoder()
        history = fit(model, data, val=data, epochs=2, batch_size=4, **QUIET)
        runs.append((weights(model), history.train_loss, history.val_loss))
    assert same_weights(runs[0][0], runs[1][0])
    assert runs[0][1:] == runs[1][1:]


def test_same_seed_same_weights_other_seed_other_weights():
    def train(seed):
        model = TinyAutoencoder()
        fit(model, tiny_images(), epochs=1, batch_size=4, seed=seed, **QUIET)
        return weights(model)

    assert same_weights(train(3), train(3))
    assert not same_weights(train(3), train(4))


def test_interrupted_and_resumed_run_ends_with_exactly_the_same_weights(tmp_path):
    settings = dict(
        task="complete",
        occlusion="pixels",
        epochs=4,
        batch_size=4,
        schedule="cosine",
        seed=5,
        **QUIET,
    )
    straight = TinyAutoencoder()
    fit(straight, tiny_images(), **settings)

    # 16 images in batches of 4: step 10 is the second step of the third epoch.
    stopped = TinyAutoencoder(interrupt_at=10)
    history = fit(stopped, tiny_images(), checkpoint=tmp_path / "run.pt", **settings)
    assert history.interrupted and history.epochs_done == 2
    assert load_checkpoint(tmp_path / "run.pt")["epoch"] == 2

    resumed = TinyAutoencoder()
    history = fit(resumed, tiny_images(), checkpoint=tmp_path / "run.pt", resume=True, **settings)
    assert not history.interrupted and history.epochs_done == 4
    assert len(history.train_loss) == 4
    assert same_weights(weights(resumed), weights(straight))


def test_two_epochs_then_resume_to_four_equals_four_epochs(tmp_path):
    data = tiny_images()
    four = TinyAutoencoder()
    fit(four, data, val=data, epochs=4, batch_size=4, **QUIET)

    model = TinyAutoencoder()
    fit(model, data, val=data, epochs=2, batch_size=4, checkpoint=tmp_path / "c.pt", **QUIET)
    history = fit(
        TinyAutoencoder(),
        data,
        val=data,
        epochs=4,
        batch_size=4,
        checkpoint=tmp_path / "c.pt",
        resume=True,
        **QUIET,
    )
    resumed = TinyAutoencoder()
    resumed.load_state_dict(load_checkpoint(tmp_path / "c.pt")["model"])
    assert same_weights(weights(resumed), weights(four))
    assert history.epochs_done == 4 and len(history.val_loss) == 4


def test_resume_without_a_checkpoint_file_starts_afresh(tmp_path):
    history = fit(
        TinyAutoencoder(), tiny_images(), checkpoint=tmp_path / "new.pt", resume=True, **QUIET
    )
    assert history.epochs_done == 1
    assert (tmp_path / "new.pt").is_file()


def test_keyboard_interrupt_returns_the_history_so_far(tmp_path):
    model = TinyAutoencoder(interrupt_at=6)
    history = fit(
        model, tiny_images(), epochs=3, batch_size=4, checkpoint=tmp_path / "c.pt", **QUIET
    )
    assert history.interrupted
    assert history.epochs_done == 1 and len(history.train_loss) == 1
    assert load_checkpoint(tmp_path / "c.pt")["history"]["epochs_done"] == 1
    assert not model.training


def test_resume_with_another_architecture_is_refused(tmp_path):
    fit(
        build_model("basic", in_shape=(1, 8, 8), latent=4),
        tiny_images(),
        checkpoint=tmp_path / "c.pt",
        **QUIET,
    )
    with pytest.raises(CheckpointError, match="is for model basic with config .*latent': 4"):
        fit(
            build_model("basic", in_shape=(1, 8, 8), latent=5),
            tiny_images(),
            checkpoint=tmp_path / "c.pt",
            resume=True,
            **QUIET,
        )


def test_resume_of_an_unregistered_model_with_other_shapes_is_refused(tmp_path):
    fit(TinyAutoencoder(), tiny_images(), checkpoint=tmp_path / "c.pt", **QUIET)
    with pytest.raises(CheckpointError, match="do not fit"):
        fit(
            TinyAutoencoder(hidden=9),
            tiny_images(),
            checkpoint=tmp_path / "c.pt",
            resume=True,
            **QUIET,
        )


def test_resume_with_other_settings_is_refused(tmp_path):
    fit(TinyAutoencoder(), tiny_images(), checkpoint=tmp_path / "c.pt", **QUIET)
    with pytest.raises(ValueError, match="lr=0.001 there but 0.01 here"):
        fit(
            TinyAutoencoder(),
            tiny_images(),
            lr=1e-2,
            checkpoint=tmp_path / "c.pt",
            resume=True,
            **QUIET,
        )


def test_flip_augmentation_mirrors_about_half_of_the_training_images():
    images = torch.arange(64 * 8, dtype=torch.float32).reshape(64, 1, 1, 8) / (64 * 8)
    model = Recorder()
    fit(model, images, epochs=1, batch_size=64, augment="flip", **QUIET)
    (seen,) = model.seen
    mirrored = [any(torch.equal(s, i.flip(-1)) for i in images) for s in seen]
    kept = [any(torch.equal(s, i) for i in images) for s in seen]
    assert all(m != k for m, k in zip(mirrored, kept, strict=True))  # each one or the other
    assert 16 < sum(mirrored) < 48


def test_flip_augmentation_is_part_of_the_seeded_run(tmp_path):
    def run(**options):
        model = TinyAutoencoder()
        fit(model, tiny_images(), epochs=2, batch_size=4, seed=2, **options, **QUIET)
        return weights(model)

    assert same_weights(run(augment="flip"), run(augment="flip"))
    assert not same_weights(run(augment="flip"), run())
    fit(TinyAutoencoder(), tiny_images(), checkpoint=tmp_path / "c.pt", **QUIET)
    with pytest.raises(ValueError, match="augment='none' there but 'flip' here"):
        fit(
            TinyAutoencoder(),
            tiny_images(),
            augment="flip",
            checkpoint=tmp_path / "c.pt",
            resume=True,
            **QUIET,
        )


def test_a_checkpoint_from_before_augment_resumes_as_unaugmented(tmp_path):
    fit(TinyAutoencoder(), tiny_images(), epochs=1, checkpoint=tmp_path / "c.pt", **QUIET)
    state = load_checkpoint(tmp_path / "c.pt")
    del state["fit_args"]["augment"]
    save_checkpoint(state, tmp_path / "c.pt")
    history = fit(
        TinyAutoencoder(),
        tiny_images(),
        epochs=2,
        checkpoint=tmp_path / "c.pt",
        resume=True,
        **QUIET,
    )
    assert history.epochs_done == 2


def test_resume_in_another_precision_is_refused(tmp_path, monkeypatch):
    monkeypatch.setattr(train, "cpu_supports_bf16", lambda: True)
    fit(TinyAutoencoder(), tiny_images(), checkpoint=tmp_path / "c.pt", **QUIET)
    with pytest.raises(ValueError, match="precision='float32' there but 'bfloat16' here"):
        fit(
            TinyAutoencoder(),
            tiny_images(),
            amp=True,
            checkpoint=tmp_path / "c.pt",
            resume=True,
            **QUIET,
        )


def test_resume_with_other_epochs_is_refused_for_an_annealed_schedule(tmp_path):
    fit(TinyAutoencoder(), tiny_images(), schedule="cosine", checkpoint=tmp_path / "c.pt", **QUIET)
    with pytest.raises(ValueError, match="epochs=1 there but 2 here"):
        fit(
            TinyAutoencoder(),
            tiny_images(),
            schedule="cosine",
            epochs=2,
            checkpoint=tmp_path / "c.pt",
            resume=True,
            **QUIET,
        )


def test_classifier_trains_with_accuracy():
    images = tiny_images(32)
    labels = (images.float().mean(dim=(1, 2, 3)) > 127).long()
    data = ImageData(images, labels, ("dark", "light"), "tiny", "train")
    torch.manual_seed(0)
    model = build_model("classifier", in_shape=(1, 8, 8), n_classes=2, width=2)
    history = fit(model, data, data, task="classify", epochs=2, batch_size=8, **QUIET)
    assert len(history.val_accuracy) == 2
    accuracy = evaluate(model, data, task="classify", device="cpu")
    assert accuracy == history.val_accuracy[-1]
    assert 0 <= accuracy <= 1


def test_schedules_anneal_the_learning_rate():
    for schedule in ("cosine", "onecycle"):
        history = fit(
            TinyAutoencoder(), tiny_images(), epochs=2, batch_size=4, schedule=schedule, **QUIET
        )
        assert history.lr[-1] < 1e-3 / 10


def test_max_steps_stops_early():
    model = TinyAutoencoder()
    history = fit(model, tiny_images(), epochs=5, batch_size=4, max_steps=6, **QUIET)
    assert model.steps == 6 and history.epochs_done == 2


BAD_ARGUMENTS = [
    (dict(epochs=0), ValueError, "epochs must be a whole number >= 1, got 0"),
    (dict(batch_size=0), ValueError, "batch_size must be a whole number >= 1"),
    (dict(lr=0), ValueError, "lr must be a number > 0"),
    (dict(task="paint"), ValueError, "task must be one of .* got 'paint'"),
    (dict(schedule="step"), ValueError, "schedule must be one of"),
    (dict(augment="rotate"), ValueError, "augment must be one of .* got 'rotate'"),
    (dict(task="complete", occlusion="middle"), ValueError, "occlusion must be one of"),
    (dict(resume=True), ValueError, "resume=True needs checkpoint"),
    (dict(seed=-1), ValueError, "seed must be"),
    (dict(device="tpu"), ValueError, "device must be"),
    (dict(train=torch.rand(4, 1, 8, 8) * 255), ValueError, "floats outside 0..1"),
    (dict(train=torch.zeros(4, 8, 8, dtype=torch.uint8)), ValueError, r"\(N, C, H, W\), got \(4"),
    (dict(train=torch.zeros(0, 1, 8, 8)), ValueError, "holds no images"),
    (dict(train=torch.zeros(4, 1, 8, 8, dtype=torch.int32)), TypeError, "got torch.int32"),
    (dict(train=[[0.5]]), TypeError, "ImageData or an image tensor .* got list"),
    (dict(task="classify"), ValueError, "needs labels"),
    (dict(val=torch.zeros(2, 3, 8, 8)), ValueError, "val images are .* but train images"),
]


@pytest.mark.parametrize(
    "change, error, message",
    BAD_ARGUMENTS,
    ids=[next(iter(c)) + str(i) for i, (c, _, _) in enumerate(BAD_ARGUMENTS)],
)
def test_bad_arguments_are_refused_with_a_clear_message(change, error, message):
    arguments = dict(train=tiny_images(4), progress=False)
    arguments.update(change)
    with pytest.raises(error, match=message):
        fit(TinyAutoencoder(), **arguments)


def test_a_model_returning_the_wrong_shape_is_named():
    with pytest.raises(ValueError, match=r"returned \(4, 64\) but the target images"):
        fit(nn.Sequential(nn.Flatten(), nn.Linear(64, 64)), tiny_images(4), **QUIET)


@pytest.mark.skipif(
    torch.cuda.is_available() or torch.backends.mps.is_available(), reason="this machine has a GPU"
)
def test_auto_device_is_the_cpu_without_a_gpu():
    assert select_device("auto") == torch.device("cpu")


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has CUDA")
def test_asking_for_cuda_without_cuda_is_a_clear_error():
    with pytest.raises(RuntimeError, match="no CUDA GPU"):
        select_device("cuda")


def test_select_device_accepts_names_and_devices():
    assert select_device("cpu") == torch.device("cpu")
    assert select_device(torch.device("cpu")) == torch.device("cpu")


def test_amp_uses_bfloat16_on_cuda_that_supports_it():
    assert amp_settings("cuda", bf16_supported=True) == (True, torch.bfloat16, False)


def test_amp_uses_float16_with_a_scaler_on_older_cuda():
    assert amp_settings(torch.device("cuda:0"), bf16_supported=False) == (True, torch.float16, True)


def test_amp_is_off_on_the_cpu_and_when_switched_off():
    assert amp_settings("cpu") == (False, None, False)
    assert amp_settings("mps") == (False, None, False)
    assert amp_settings("cuda", amp=False, bf16_supported=True) == (False, None, False)


def test_amp_on_the_cpu_asks_for_bfloat16():
    assert amp_settings("cpu", amp=True, bf16_supported=True) == (True, torch.bfloat16, False)


def test_amp_on_a_cpu_without_bfloat16_instructions_is_refused():
    with pytest.raises(ValueError, match="needs bfloat16 instructions"):
        amp_settings("cpu", amp=True, bf16_supported=False)


def test_amp_on_mps_is_refused():
    with pytest.raises(ValueError, match="needs a CUDA device or a CPU"):
        amp_settings("mps", amp=True)


def test_fit_records_the_precision_it_trained_in(tmp_path, monkeypatch):
    monkeypatch.setattr(train, "cpu_supports_bf16", lambda: True)
    model = build_model("conv", in_shape=(1, 8, 8), latent=4, width=2)
    checkpoint = tmp_path / "c.pt"
    fit(model, tiny_images(), epochs=1, batch_size=4, amp=True, checkpoint=checkpoint, **QUIET)
    assert load_checkpoint(tmp_path / "c.pt")["fit_args"]["precision"] == "bfloat16"
    fit(model, tiny_images(), epochs=1, batch_size=4, checkpoint=tmp_path / "d.pt", **QUIET)
    assert load_checkpoint(tmp_path / "d.pt")["fit_args"]["precision"] == "float32"


@pytest.mark.parametrize("dtype, use_scaler", [(torch.bfloat16, False), (torch.float16, True)])
def test_the_mixed_precision_loop_runs_and_resumes(dtype, use_scaler, tmp_path, monkeypatch):
    # The CUDA branch cannot run here; CPU autocast exercises the same lines of the loop.
    monkeypatch.setattr(
        train, "amp_settings", lambda device, amp: train.AmpSettings(True, dtype, use_scaler)
    )
    model = build_model("conv", in_shape=(1, 8, 8), latent=4, width=2)
    history = fit(
        model, tiny_images(), epochs=1, batch_size=4, checkpoint=tmp_path / "c.pt", **QUIET
    )
    assert all(map(math.isfinite, history.train_loss))
    assert (load_checkpoint(tmp_path / "c.pt")["scaler"] is not None) == use_scaler
    history = fit(
        model,
        tiny_images(),
        epochs=2,
        batch_size=4,
        checkpoint=tmp_path / "c.pt",
        resume=True,
        **QUIET,
    )
    assert history.epochs_done == 2


def test_checkpoint_is_replaced_atomically_leaving_no_temporary_files(tmp_path):
    path = tmp_path / "c.pt"
    save_checkpoint({"n": torch.tensor(1)}, path)
    save_checkpoint({"n": torch.tensor(2)}, path)
    assert os.listdir(tmp_path) == ["c.pt"]
    assert load_checkpoint(path)["n"] == 2


def test_a_failed_checkpoint_write_leaves_the_old_file_intact(tmp_path, monkeypatch):
    path = tmp_path / "c.pt"
    save_checkpoint({"n": torch.tensor(1)}, path)

    def half_a_save(obj, file):
        file.write(b"half a checkpoint")
        raise KeyboardInterrupt

    monkeypatch.setattr(torch, "save", half_a_save)
    with pytest.raises(KeyboardInterrupt):
        save_checkpoint({"n": torch.tensor(2)}, path)
    monkeypatch.undo()
    assert os.listdir(tmp_path) == ["c.pt"]
    assert load_checkpoint(path)["n"] == 1


def test_loading_a_checkpoint_with_a_custom_object_is_refused(tmp_path):
    torch.save({"history": History()}, tmp_path / "unsafe.pt")
    with pytest.raises(CheckpointError, match="contains a imgen.train.History"):
        load_checkpoint(tmp_path / "unsafe.pt")


def test_loading_a_truncated_checkpoint_says_so(tmp_path):
    save_checkpoint({"n": torch.tensor(1)}, tmp_path / "c.pt")
    (tmp_path / "c.pt").write_bytes((tmp_path / "c.pt").read_bytes()[:40])
    with pytest.raises(CheckpointError, match="truncated or corrupt"):
        load_checkpoint(tmp_path / "c.pt")


def test_fit_checkpoint_holds_only_plain_data_and_the_model_spec(tmp_path):
    model = build_model("basic", in_shape=(1, 8, 8), latent=4)
    fit(model, tiny_images(), checkpoint=tmp_path / "c.pt", **QUIET)
    saved = load_checkpoint(tmp_path / "c.pt")  # weights_only=True
    assert saved["model_spec"] == {"name": "basic", "config": model.config}
    assert saved["epoch"] == 1 and saved["fit_args"]["train_images"] == 16
    assert {"model", "optimizer", "scheduler", "history"} <= saved.keys()


def test_history_plots_its_curves_and_round_trips_through_a_dict():
    history = History(
        train_loss=[0.5, 0.25],
        val_loss=[0.6, 0.3],
        seconds=[1.0, 1.0],
        lr=[1e-3, 1e-3],
        epochs_done=2,
    )
    ax = history.plot()
    assert isinstance(ax, matplotlib.axes.Axes)
    assert len(ax.lines) == 2 and ax.get_yscale() == "log"
    assert History.from_dict(history.to_dict()) == history


def test_only_models_with_convolutions_get_channels_last_batches():
    cpu = torch.device("cpu")
    assert train.memory_format(cpu, build_model("basic")) == torch.contiguous_format
    assert train.memory_format(cpu, build_model("conv")) == torch.channels_last
    assert train.memory_format(torch.device("mps"), build_model("conv")) == torch.contiguous_format
