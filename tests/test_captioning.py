"""The `captioning` rubric: full marks for the reference, 0 for the starter, and every wrong variant
of a question loses that question's points and no others."""
import pytest

from conftest import KIT_ROOT, assert_only_lost, reference_source, replace_solution, scores
from grading import results

# question -> (class or None, function, wrong body)
WRONG_VARIANTS = {
    "Q1": ("tokenize", """
        return text.lower().split()  # punctuation stays glued to the words
        """),
    "Q2": ("build_vocabulary", """
        counts = Counter(token for caption in captions for token in tokenize(caption))
        kept = sorted((t for t, n in counts.items() if n >= min_freq), key=lambda t: (-counts[t], t))
        return Vocabulary(kept + list(SPECIALS))  # the special tokens last
        """),
    "Q3": ("text_pipeline", """
        sequence = ([START] + vocab(tokenize(caption)) + [END])[:max_seq_len]  # a long caption loses [END]
        return torch.tensor(sequence + [PAD] * (max_seq_len - len(sequence)), dtype=torch.long)
        """),
    "Q4": ("CNNEncoder.__init__", """
        resnet = load_resnet50(pretrained)
        self.resnet = nn.Sequential(*list(resnet.children())[:-2])  # not frozen
        self.pool = nn.AdaptiveAvgPool2d((14, 14))
        """),
    "Q5": ("RNNDecoder.__init__", """
        self.embedding = nn.Embedding(vocab_size, embed_size)  # no padding_idx
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.init_h = nn.Linear(FEATURE_SIZE, decoder_size)
        self.init_c = nn.Linear(FEATURE_SIZE, decoder_size)
        self.lstm = nn.LSTMCell(FEATURE_SIZE + embed_size, decoder_size)
        self.dropout = nn.Dropout(0.5)
        self.fc = nn.Linear(decoder_size, vocab_size)
        """),
    "Q6": ("RNNDecoder.init_hidden_state", """
        pooled = self.pool(features).flatten(1)
        return self.init_h(pooled), self.init_h(pooled)  # c from init_h too
        """),
    "Q7": ("RNNDecoder.forward", """
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
    "Q8": ("RNNDecoder.predict", """
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
    "Q9": ("forward_pass", """
        with torch.no_grad():
            features = encoder(images)
        scores = decoder(features, captions)
        vocab_size = scores.shape[-1]  # every target counted, padding included
        return loss_fn(scores[:, :-1].reshape(-1, vocab_size), captions[:, 1:].reshape(-1)), scores
        """),
}
MORE_WRONG_VARIANTS = {
    "Q4": ("CNNEncoder.forward", """
        return nn.functional.adaptive_max_pool2d(self.resnet(images), (14, 14))  # max, not average
        """),
    "Q8": ("RNNDecoder.predict", """
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
}


def test_reference_scores_22(grade):
    report = grade("captioning", reference_source("captioning"))
    assert (report.score, report.max_score) == (22, 22), results.table(report)
    assert [q.name for q in report.questions][:3] == ["Q1 tokenize", "Q2 build_vocabulary", "Q3 text_pipeline"]


VARIANTS = [(n, v) for n, v in WRONG_VARIANTS.items()] + [(n, v) for n, v in MORE_WRONG_VARIANTS.items()]


@pytest.mark.parametrize("number,variant", VARIANTS, ids=[f"{n}-{i}" for i, (n, _) in enumerate(VARIANTS)])
def test_a_wrong_answer_loses_its_own_points_only(grade, number, variant):
    report = grade("captioning", replace_solution(reference_source("captioning"), *variant))
    assert_only_lost(report, number)


def test_a_student_file_in_another_style_gets_full_marks(grade):
    report = grade("captioning", KIT_ROOT / "tests" / "submissions" / "captioning")
    assert report.score == 22, results.table(report)
    assert any("Using cpu" in note for note in report.notes)  # its module-level code ran


def test_scores_do_not_depend_on_how_random_numbers_are_drawn(grade):
    source = reference_source("captioning").replace(
        "        embeddings = self.embedding(captions)                   # (B, L, E)",
        "        torch.rand(int(torch.randint(1, 50, (1,))))  # draws extra random numbers first\n"
        "        embeddings = self.embedding(captions)                   # (B, L, E)")
    source += "\nimport random as _r\nfor _ in range(_r.randint(1, 9)):\n    torch.randn(3)\n"
    first, second = grade("captioning", source), grade("captioning", source)
    assert first.score == 22
    assert scores(first) == scores(second)


def test_the_predict_cases_exercise_early_and_late_ends():
    """The hidden predict checks only catch a decoder that ignores [END] if rows end at different
    steps (and some never), with the real initial state and with the stand-in."""
    from grading import assignments
    from grading.assignments.captioning import hidden, public
    from grading.grader import ReferenceProxy
    reference = ReferenceProxy.of(assignments.load("captioning"))
    for case, ending in ((hidden.ENDING_CASE, True), (hidden.NEVER_ENDING_CASE, False)):
        weights, image = hidden.case_inputs(case)
        for standins in ([], ["init_hidden_state"]):
            tokens = reference.call("predict", sizes=public.SIZES, weights=weights, features=image, T=case["T"],
                                    standins=standins)
            ends = [int(row.tolist().index(public.END)) if public.END in row.tolist() else -1 for row in tokens]
            if ending:
                assert -1 in ends and len({e for e in ends if e > 0}) >= 2, (standins, ends)
            else:
                assert set(ends) == {-1}, (standins, ends)
