"""The given parts of the captioning module: the encoder's fallback to random weights, the feature
cache, training, beam search and the metrics (on the reference solution)."""
import importlib.util
import math
import warnings

import pytest
import torch

from conftest import KIT_ROOT
from data import captions


@pytest.fixture(scope="module")
def cs():
    spec = importlib.util.spec_from_file_location("captioning_reference",
                                                  KIT_ROOT / "solutions" / "captioning_solution.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def scenes(tmp_path_factory):
    root = captions.write_fixture("coco_captions", tmp_path_factory.mktemp("scenes"), n_train=6, n_val=2, n_test=4)
    return captions.load("coco_captions", "train", root, transform=captions.image_transform(32))


def test_without_imagenet_weights_the_encoder_warns_and_uses_random_weights(cs, scenes, tmp_path, monkeypatch, offline,
                                                                            one_thread):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))  # no cached weights either
    with pytest.warns(RuntimeWarning, match="RANDOM weights"):
        encoder = cs.CNNEncoder(pretrained=True)
    encoder.train()  # frozen: stays in evaluation mode
    assert not encoder.training and not any(p.requires_grad for p in encoder.parameters())
    features, texts = cs.encode_images(encoder, torch.utils.data.Subset(scenes, [0, 1, 2]), batch_size=2,
                                       num_workers=0, device=torch.device("cpu"))
    with torch.no_grad():
        full = encoder(cs.normalize_images(captions.load_images(scenes, 3)))
    assert full.shape == (3, 2048, 14, 14)
    # The cache keeps the spatial mean: what the decoder computes from the full map.
    assert torch.allclose(features, full.mean(dim=(2, 3), keepdim=True), rtol=1e-4, atol=1e-4)
    assert texts[0] == scenes[0][1]
    decoder = cs.RNNDecoder(8, 16, 20, "cpu").eval()
    tokens = torch.randint(0, 20, (3, 5))
    with torch.no_grad():
        assert torch.allclose(decoder(features, tokens), decoder(full, tokens), rtol=1e-4, atol=1e-4)


@pytest.fixture(scope="module")
def trained(cs, one_thread):
    """A small decoder trained on random features to write the caption of its image."""
    torch.manual_seed(0)
    texts = [["a red circle ."], ["two blue squares on grey ."], ["a green square ."], ["three yellow circles ."]]
    vocab = cs.build_vocabulary(t for group in texts for t in group)
    features = 0.1 * torch.randn(4, 2048, 1, 1)  # the scale of ImageNet features seen by a small LSTM
    tokens, index = cs.caption_tensors(texts, vocab, max_seq_len=10)
    decoder = cs.RNNDecoder(16, 32, len(vocab), "cpu")
    logs = cs.train_decoder(decoder, features, tokens, index, epochs=60, batch_size=4, lr=1e-2)
    return decoder, features, vocab, texts, logs


def test_training_on_cached_features_learns_the_captions(cs, trained):
    decoder, features, vocab, texts, logs = trained
    assert len(logs["step_loss"]) == 60 and logs["train_loss"][-1] < 0.3 * logs["train_loss"][0]
    greedy = cs.generate(decoder, features, max_len=10)
    assert [cs.ids_to_caption(row, vocab) for row in greedy] == [
        "a red circle.", "two blue squares on grey.", "a green square.", "three yellow circles."]


def test_beam_search_of_width_1_is_greedy_decoding(cs, trained):
    decoder, features, *_ = trained
    features = features + 0.05 * torch.randn(features.shape, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        assert torch.equal(cs.beam_search(decoder, features, beam_size=1, max_len=10),
                           decoder.eval().predict(features, 10))


def test_beam_search_output_and_its_likelihood(cs, trained):
    decoder, features, *_ = trained
    features = features + 0.08 * torch.randn(features.shape, generator=torch.Generator().manual_seed(2))
    greedy = cs.generate(decoder, features, max_len=10)
    beam = cs.generate(decoder, features, beam_size=4, max_len=10)
    assert beam.shape == (4, 10) and beam.dtype == torch.long
    for row in beam.tolist():  # predict's format: [END] kept, then only [PAD]
        if cs.END in row:
            assert set(row[row.index(cs.END) + 1:]) <= {cs.PAD}

    def log_likelihood(rows):
        prefixed = torch.cat([torch.full((len(rows), 1), cs.START), rows], dim=1)
        with torch.no_grad():
            log_probs = torch.log_softmax(decoder(features, prefixed)[:, :-1], dim=-1)
        picked = log_probs.gather(2, rows.unsqueeze(2)).squeeze(2)
        return (picked * (rows != cs.PAD)).sum(dim=1)

    unnormalized = cs.beam_search(decoder, features, beam_size=4, max_len=10, length_penalty=0.0)
    assert (log_likelihood(unnormalized) >= log_likelihood(greedy) - 1e-4).all()


def test_metrics_without_java(cs, monkeypatch):
    monkeypatch.setenv("PATH", "/nonexistent")  # the PTB tokenizer would need java: it is not used
    references = [["A red circle on a white background.", "a red circle ."], ["Two blue squares.", "two squares"]]
    perfect = cs.caption_metrics(references, ["a red circle on a white background", "two blue squares"])
    assert math.isclose(perfect["BLEU-1"], 1.0, rel_tol=1e-6) and perfect["BLEU-4"] > 0.9
    assert set(perfect) == {"BLEU-1", "BLEU-2", "BLEU-3", "BLEU-4", "CIDEr"}
    worse = cs.caption_metrics(references, ["a dog", ""])  # an empty caption is scored, not an error
    assert worse["BLEU-1"] < perfect["BLEU-1"] and worse["CIDEr"] < perfect["CIDEr"]


def test_ids_to_caption_stops_at_end_and_drops_specials(cs):
    vocab = cs.Vocabulary(list(cs.SPECIALS) + ["a", "dog", ".", ","])
    assert cs.ids_to_caption([cs.START, 4, 5, 7, 4, 3, 6, cs.END, 5, cs.PAD], vocab) == "a dog, a [UNK]."
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert cs.ids_to_caption(torch.tensor([cs.END, 4]), vocab) == ""
