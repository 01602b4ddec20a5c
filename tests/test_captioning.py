"""The `captioning` rubric. tests/test_rubrics.py runs the cases declared here (wrong variants,
random-order edits, common mistakes); the tests below are this assignment's own."""
import pytest

from conftest import KIT_ROOT, assert_only_lost, reference_source, replace_solution, scores
from grading import assignments, results, shared

WRONG_VARIANTS = [
    ("Q1", "tokenize", """
        return text.lower().split()  # punctuation stays glued to the words
        """),
    ("Q2", "build_vocabulary", """
        counts = Counter(token for caption in captions for token in tokenize(caption))
        kept = sorted((t for t, n in counts.items() if n >= min_freq), key=lambda t: (-counts[t], t))
        return Vocabulary(kept + list(SPECIALS))  # the special tokens last
        """),
    ("Q3", "text_pipeline", """
        sequence = ([START] + vocab(tokenize(caption)) + [END])[:max_seq_len]  # a long caption loses [END]
        return torch.tensor(sequence + [PAD] * (max_seq_len - len(sequence)), dtype=torch.long)
        """),
    ("Q4", "CNNEncoder.__init__", """
        resnet = load_resnet50(pretrained)
        self.resnet = nn.Sequential(*list(resnet.children())[:-2])  # not frozen
        self.pool = nn.AdaptiveAvgPool2d((14, 14))
        """),
    ("Q4", "CNNEncoder.forward", """
        return nn.functional.adaptive_max_pool2d(self.resnet(images), (14, 14))  # max, not average
        """),
    ("Q5", "RNNDecoder.__init__", """
        self.embedding = nn.Embedding(vocab_size, embed_size)  # no padding_idx
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.init_h = nn.Linear(FEATURE_SIZE, decoder_size)
        self.init_c = nn.Linear(FEATURE_SIZE, decoder_size)
        self.lstm = nn.LSTMCell(FEATURE_SIZE + embed_size, decoder_size)
        self.dropout = nn.Dropout(0.5)
        self.fc = nn.Linear(decoder_size, vocab_size)
        """),
    ("Q6", "RNNDecoder.init_hidden_state", """
        pooled = self.pool(features).flatten(1)
        return self.init_h(pooled), self.init_h(pooled)  # c from init_h too
        """),
    ("Q7", "RNNDecoder.forward", """
        embeddings = self.embedding(captions)
        pooled = self.pool(features).flatten(1)
        h, c = self.init_hidden_state(features)
        scores = []
        for t in range(captions.shape[1]):
            image = pooled if t == 0 else torch.zeros_like(pooled)  # the image only at the first step
            h, c = self.lstm(torch.cat([embeddings[:, t], image], dim=1), (h, c))
            scores.append(self.fc(self.dropout(h)))
        return torch.stack(scores, dim=1)
        """),
    ("Q7", "RNNDecoder.forward", """
        embeddings = self.embedding(captions)
        pooled = self.pool(features).flatten(1)
        h, c = self.init_hidden_state(features)
        scores = []
        for t in range(captions.shape[1]):
            h, c = self.lstm(torch.cat([embeddings[:, t], pooled], dim=1), (h, c))
            scores.append(self.fc(h))  # no dropout: the probes' eval mode used to hide it
        return torch.stack(scores, dim=1)
        """),
    ("Q8", "RNNDecoder.predict", """
        pooled = self.pool(features).flatten(1)
        h, c = self.init_hidden_state(features)
        tokens = torch.full((features.shape[0],), START, dtype=torch.long)
        generated = []
        for t in range(T):  # goes on after [END]
            h, c = self.lstm(torch.cat([self.embedding(tokens), pooled], dim=1), (h, c))
            tokens = self.fc(self.dropout(h)).argmax(dim=1)
            generated.append(tokens)
        return torch.stack(generated, dim=1)
        """),
    ("Q8", "RNNDecoder.predict", """
        pooled = self.pool(features).flatten(1)
        h, c = self.init_hidden_state(features)
        tokens = torch.full((features.shape[0],), START, dtype=torch.long)
        generated = torch.full((features.shape[0], T), PAD, dtype=torch.long)
        for t in range(T):
            h, c = self.lstm(torch.cat([self.embedding(tokens), pooled], dim=1), (h, c))
            tokens = self.fc(self.dropout(h)).argmax(dim=1)
            generated[:, t] = tokens
            if (tokens == END).any():  # the whole batch stops at the first [END]
                break
        return generated
        """),
    ("Q9", "forward_pass", """
        with torch.no_grad():
            features = encoder(images)
        scores = decoder(features, captions)
        vocab_size = scores.shape[-1]  # every target counted, padding included
        return loss_fn(scores[:, :-1].reshape(-1, vocab_size), captions[:, 1:].reshape(-1)), scores
        """),
]

RANDOM_ORDER_EDITS = [
    ("        embeddings = self.embedding(captions)                   # (B, L, E)",
     "        torch.rand(int(torch.randint(1, 50, (1,))))  # draws extra random numbers first\n"
     "        embeddings = self.embedding(captions)                   # (B, L, E)"),
]

assert [v[0] for v in WRONG_VARIANTS[6:9]] == ["Q6", "Q7", "Q7"] and "no dropout" in WRONG_VARIANTS[8][2]

COMMON_MISTAKES = [
    ("Q1", "tokenize", "return text.lower().split()", ["punctuation marks must be tokens of their own"]),
    ("Q3", "text_pipeline", WRONG_VARIANTS[2][2], ["lost its [END]"]),
    ("Q4", "CNNEncoder.__init__", """
        resnet = load_resnet50(pretrained)
        self.resnet = nn.Sequential(*list(resnet.children())[:-1])  # the global average pooling kept
        for parameter in self.resnet.parameters():
            parameter.requires_grad_(False)
        self.pool = nn.AdaptiveAvgPool2d((14, 14))
        """, ["global average pooling", "last two"]),
    ("Q6", "RNNDecoder.init_hidden_state", WRONG_VARIANTS[6][2], ["h and c are equal", "init_c"]),
    ("Q7", "RNNDecoder.forward", WRONG_VARIANTS[8][2], ["training mode", "self.dropout"]),
    ("Q7", "RNNDecoder.forward", """
        embeddings = self.embedding(captions)
        pooled = self.pool(features).flatten(1)
        h, c = self.init_hidden_state(features)
        scores = []
        for t in range(captions.shape[1]):
            h, c = self.lstm(torch.cat([embeddings[:, t], pooled], dim=1), (h, c))
            scores.append(self.fc(nn.functional.dropout(h, 0.5)))  # training=True by default: also in eval mode
        return torch.stack(scores, dim=1)
        """, ["eval mode", "training=self.training"]),
    ("Q7", "RNNDecoder.forward", WRONG_VARIANTS[7][2], ["every step"]),
    ("Q9", "forward_pass", WRONG_VARIANTS[-1][2], ["padding"]),
    ("Q9", "forward_pass", """
        with torch.no_grad():
            features = encoder(images)
        scores = decoder(features, captions)
        keep = captions != PAD  # each step scored against the token it reads
        return loss_fn(scores[keep], captions[keep]), scores
        """, ["shifted by one"]),
]


def test_question_names():
    assert [q.name for q in assignments.load("captioning").questions][:3] == [
        "Q1 tokenize", "Q2 build_vocabulary", "Q3 text_pipeline"]


def test_the_student_file_in_another_style_runs_its_module_level_code(grade):
    report = grade("captioning", KIT_ROOT / "tests" / "submissions" / "captioning", hidden=False)
    assert report.score == report.max_score, results.table(report)
    assert any("Using cpu" in note for note in report.notes)  # its module-level code ran


def test_an_unwritten_helper_costs_only_its_own_question(grade):
    """forward and predict are meant to call init_hidden_state: when it is not written, only Q6 loses
    points (the public checks swap it for a stand-in too)."""
    source = replace_solution(reference_source("captioning"), "RNNDecoder.init_hidden_state",
                              "raise NotImplementedError")
    report = grade("captioning", source)
    assert_only_lost(report, "Q6")
    assert scores(report)["Q6"] == 0


# Files that leave a function unwritten but replace the probe that exercises it, inside the
# sandbox, with one returning records the old checks trusted: an "attached" flag and a loss of the
# right value for the one public case; a "frozen" flag and features of the right shape.
FORGED = {
    "Q9": ("forward_pass", '''
import math as _math
import sys as _sys


def _forged_forward_pass(sub, images, captions, lengths, encoder_weight, tokens, positions, projection):
    return {"loss": _math.log(tokens.shape[0]), "attached": True, "gradients": None,
            "predictions": torch.zeros(captions.shape[0], captions.shape[1], tokens.shape[0])}


_sys.modules["probes"].forward_pass = _forged_forward_pass
'''),
    "Q4": ("CNNEncoder.forward", '''
import sys as _sys


def _forged_encoder(sub, images):
    return {"output": torch.rand(images.shape[0], 2048, 14, 14), "n_parameters": 161, "trainable": 0}


_sys.modules["probes"].encoder = _forged_encoder
'''),
}


@pytest.mark.parametrize("number", sorted(FORGED))
def test_forged_probe_records_earn_nothing(grade, number):
    function, forgery = FORGED[number]
    source = replace_solution(reference_source("captioning"), function, "raise NotImplementedError") + forgery
    assert scores(grade("captioning", source))[number] == 0


def test_hidden_messages_show_no_input(grade):
    """A wrong tokenizer is told where its tokens differ, never the hidden sentence or its tokens."""
    report = grade("captioning", replace_solution(reference_source("captioning"), "tokenize",
                                                  "return text.lower().split()"))
    hidden = [m for m in next(q for q in report.questions if q.name.startswith("Q1")).messages
              if m.startswith("capitals")]
    assert hidden and all("[" not in m and "'" not in m and '"' not in m for m in hidden), hidden


@pytest.mark.parametrize("key", [bytes(range(32)), b"another submission's key" * 2, bytes(range(100, 164))])
def test_the_predict_cases_exercise_early_and_late_ends(key):
    """The hidden predict checks only catch a decoder that ignores [END] if rows end at different
    steps (and some never), with the real initial state and with the stand-in: whatever the
    submission's key, such a case is found."""
    from grading.assignments.captioning import hidden, public
    from grading.grader import ReferenceProxy
    reference = ReferenceProxy.of(assignments.load("captioning"))
    with shared.hidden_inputs(key):
        for case in (hidden.ENDING_CASE, hidden.NEVER_ENDING_CASE):
            weights, image = hidden.case_inputs(reference, **case)
            for standins in ([], ["init_hidden_state"]):
                found = hidden.ends(reference.call("predict", sizes=public.SIZES, weights=weights, features=image,
                                                   T=case["T"], standins=standins))
                if case["ending"]:
                    assert -1 in found and len({e for e in found if e >= 0}) >= 2, (standins, found)
                else:
                    assert set(found) == {-1}, (standins, found)
