"""The given training code (solutions/simsiam_training.py): encoders, optimizer and schedule, kNN
monitor, a pre-training epoch and the linear evaluation, on tiny data."""
import math
import sys

import pytest
import torch

from conftest import KIT_ROOT

sys.path.insert(0, str(KIT_ROOT / "solutions"))
import simsiam_solution as ss  # noqa: E402
import simsiam_training as st  # noqa: E402

pytestmark = pytest.mark.usefixtures("one_thread")


def tiny_simsiam(**settings):
    return ss.SimSiam(st.small_resnet(width=4, blocks=(1, 1)), dim=16, pred_dim=4, **settings)


@pytest.mark.parametrize("constructor", [st.resnet18_cifar, st.small_resnet(width=8)])
def test_encoders_have_the_signature_and_head_simsiam_needs(constructor):
    encoder = constructor(num_classes=10, zero_init_residual=True)
    assert isinstance(encoder.fc, torch.nn.Linear) and encoder.fc.out_features == 10
    assert encoder(torch.randn(2, 3, 32, 32)).shape == (2, 10)
    blocks = [m for m in encoder.modules() if isinstance(m, st.BasicBlock)]
    assert blocks and all(block.bn2.weight.abs().sum() == 0 for block in blocks)  # zero_init_residual


def test_the_predictor_keeps_its_learning_rate_while_the_encoders_decays():
    model = tiny_simsiam()
    optimizer = st.make_optimizer(model, 0.06, st.PretrainConfig())
    assert [group["fix_lr"] for group in optimizer.param_groups] == [False, True]
    assert not any(p is model.encoder.fc[6].bias for group in optimizer.param_groups for p in group["params"])
    rates = [st.set_learning_rate(optimizer, 0.06, epoch, 4) for epoch in range(4)]
    assert rates == pytest.approx([0.06 * 0.5 * (1 + math.cos(math.pi * e / 4)) for e in range(4)])
    assert [group["lr"] for group in optimizer.param_groups] == pytest.approx([rates[-1], 0.06])
    frozen = st.make_optimizer(tiny_simsiam(MLP_mode="fixed_random_init"), 0.06, st.PretrainConfig())
    assert len(frozen.param_groups) == 1  # a frozen predictor has nothing to train
    identity = st.make_optimizer(tiny_simsiam(MLP_mode="no_pred_mlp"), 0.06, st.PretrainConfig())
    assert len(identity.param_groups) == 1


def test_knn_votes_are_weighted_by_similarity():
    # Three far neighbours of class 0 against one very close neighbour of class 1.
    bank = torch.nn.functional.normalize(torch.tensor([[1.0, 0.0], [0.6, 0.8], [0.6, -0.8], [0.62, 0.78]]), dim=1)
    labels = torch.tensor([1, 0, 0, 0])
    query = torch.tensor([[1.0, 0.0]])
    assert st.knn_predict(query, bank, labels, 2, k=4, t=0.1).item() == 1       # exp(1/0.1) outweighs 3 exp(6)
    assert st.knn_predict(query, bank, labels, 2, k=4, t=100.0).item() == 0     # nearly a plain majority
    assert st.knn_predict(query, bank, labels, 2, k=1).item() == 1
    queries = torch.nn.functional.normalize(torch.randn(2500, 2), dim=1)       # several chunks
    assert st.knn_predict(queries, bank, labels, 2, k=200).shape == (2500,)


def test_embed_skips_the_projector_and_restores_the_model():
    model = tiny_simsiam()
    images = torch.randint(0, 256, (5, 3, 32, 32), dtype=torch.uint8)
    features = st.embed(model.encoder, images)
    assert features.shape == (5, 8) and torch.allclose(features.norm(dim=1), torch.ones(5))  # 2 stages: 2 * width
    assert isinstance(model.encoder.fc, torch.nn.Sequential) and model.encoder.training


def test_output_std_is_zero_for_collapsed_outputs():
    assert st.output_std(torch.randn(1, 64).repeat(32, 1)).item() == pytest.approx(0, abs=1e-6)
    assert st.output_std(torch.randn(4096, 64)).item() == pytest.approx(64 ** -0.5, rel=0.05)


def test_pretraining_and_linear_evaluation_run_and_report_per_epoch(tmp_path):
    from data import cifar10
    root = cifar10.write_fixture("cifar10", tmp_path, n_train=64, n_test=32)
    train, test = cifar10.load(root, train=True), cifar10.load(root, train=False)
    model = tiny_simsiam()
    before = [p.detach().clone() for p in model.parameters()]
    history = st.pretrain(model, train, test, st.PretrainConfig(epochs=2, batch_size=32))
    assert set(history) == {"loss", "knn_accuracy", "output_std", "lr"}
    assert all(len(values) == 2 for values in history.values())
    assert all(-1 <= loss <= 1 for loss in history["loss"]) and all(0 <= a <= 1 for a in history["knn_accuracy"])
    assert history["lr"] == pytest.approx([0.03 * 32 / 256, 0.03 * 32 / 256 / 2])
    changed = [not torch.equal(p, b) for p, b in zip(model.parameters(), before) if p.requires_grad]
    assert all(changed)
    assert torch.equal(model.encoder.fc[6].bias, before[[i for i, p in enumerate(model.parameters())
                                                         if p is model.encoder.fc[6].bias][0]])  # frozen bias
    accuracy = st.linear_evaluation(model.encoder, train, test, epochs=3)
    assert set(accuracy) == {"train_accuracy", "test_accuracy"} and 0 <= accuracy["test_accuracy"] <= 1
