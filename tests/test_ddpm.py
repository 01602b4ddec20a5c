"""The `ddpm` rubric's cases (run by tests/test_rubrics.py for every assignment), and the tests of
this rubric alone: the starter's messages, random functions that are not random (a cycle, a
replayed draw), and files that forge what the probes report. The probes install the grader's
tables and stand-ins, so one mistake is never paid twice."""
import pytest

from conftest import KIT_ROOT, reference_source, replace_solution, scores, starter_source
from grading import results

# (question, function whose solution region is replaced, wrong body)
WRONG_VARIANTS = [
    ("Q1", "linear_beta_schedule", """
        betas = linear_beta_schedule(beta_start, beta_end, T)
        alphas = 1.0 - betas
        sqrt_recip_alphas = torch.rsqrt(alphas)
        alphas_cumprod = torch.cumprod(alphas, dim=0)
        sqrt_alphas_cumprod = alphas_cumprod.sqrt()
        sqrt_one_minus_alphas_cumprod = (1.0 - alphas_cumprod).sqrt()
        alphas_cumprod_prev = F.pad(alphas_cumprod[:-1], (1, 0), value=0.0)  # starts at 0, not 1
        posterior_variance = betas * (1.0 - alphas_cumprod_prev) / (1.0 - alphas_cumprod)
        """),
    ("Q2", "q_sample", """
        # x_start forgotten
        return extract(sqrt_alphas_cumprod, t, x_start.shape) + \
extract(sqrt_one_minus_alphas_cumprod, t, x_start.shape) * noise
        """),
    ("Q3", "p_sample", """
        mean = extract(sqrt_recip_alphas, t, x.shape) * (
            x - extract(betas, t, x.shape) * model(x, t) / extract(sqrt_one_minus_alphas_cumprod, t, x.shape))
        if t_index == 0:
            return mean
        return mean + extract(posterior_variance, t, x.shape) * torch.randn_like(x)  # the variance, not the std
        """),
    ("Q4", "p_sample_loop", """
        for i in range(timesteps):  # from t = 0 up instead of from T - 1 down
            img = p_sample(model, img, torch.full((b,), i, device=device, dtype=torch.long), i)
            imgs.append(img.cpu())
        """),
    ("Q5", "p_losses", """
        noise = torch.randn_like(x_start)
        return F.mse_loss(denoise_model(q_sample(x_start, t, noise=noise), t), noise)  # L2, not smooth L1
        """),
    ("Q6", "t_sample", """
        return torch.randint(1, timesteps + 1, (batch_size,), device=device)  # times in [1, T]
        """),
    ("Q3", "p_sample", """
        mean = extract(sqrt_recip_alphas, t, x.shape) * (
            x - extract(betas, t, x.shape) * model(x, t) / extract(sqrt_one_minus_alphas_cumprod, t, x.shape))
        return mean + extract(posterior_variance, t, x.shape).sqrt() * torch.randn_like(x)  # noise at t = 0 too
        """),
    ("Q4", "p_sample_loop", """
        for i in reversed(range(timesteps)):
            imgs.append(img.cpu())  # stored before the step: starts with x_T, misses x_0
            img = p_sample(model, img, torch.full((b,), i, device=device, dtype=torch.long), i)
        """),
    ("Q5", "p_losses", """
        x_noisy = q_sample(x_start, t)  # q_sample draws its own noise...
        return F.smooth_l1_loss(denoise_model(x_noisy, t), torch.randn_like(x_start))  # ...and another is compared
        """),
    ("Q5", "p_losses", """
        noise = torch.rand_like(x_start)  # a consistent loss, on uniform noise
        return F.smooth_l1_loss(denoise_model(q_sample(x_start, t, noise=noise), t), noise)
        """),
    ("Q5", "p_losses", """
        noise = torch.randn(x_start.shape, generator=torch.Generator().manual_seed(0))  # the same noise every call
        return F.smooth_l1_loss(denoise_model(q_sample(x_start, t, noise=noise), t), noise)
        """),
]

# Edits that make the reference draw random numbers in another order (it must keep full marks).
RANDOM_ORDER_EDITS = [
    (line, f"{line[:len(line) - len(line.lstrip())]}torch.rand(int(torch.randint(1, 50, (1,))))  # extra draws first\n"
           + line)
    for line in ("    noise = torch.randn_like(x_start)\n    x_noisy",
                 "    posterior_std_t = extract(posterior_variance, t, x.shape).sqrt()")
]

# (question, function, wrong body, words the public checks' message must hold)
COMMON_MISTAKES = [
    ("Q1", "linear_beta_schedule", WRONG_VARIANTS[0][2], ["alphas_cumprod_prev", "pad", "with 1"]),
    ("Q2", "q_sample", """
        if noise is None:
            noise = torch.randn_like(x_start)
        return extract(alphas_cumprod, t, x_start.shape) * x_start + \
extract(1 - alphas_cumprod, t, x_start.shape) * noise
        """, ["square roots are missing"]),
    ("Q3", "p_sample", """
        mean = extract(sqrt_recip_alphas, t, x.shape) * (
            x - extract(betas, t, x.shape) * model(x, t) / extract(sqrt_one_minus_alphas_cumprod, t, x.shape))
        if t_index == 0:
            return mean
        return mean + extract(posterior_variance, t, x.shape) * torch.randn_like(x)
        """, ["posterior_variance", "square root"]),
    ("Q5", "p_losses", """
        noise = torch.randn_like(x_start)
        return F.mse_loss(denoise_model(q_sample(x_start, t, noise=noise), t), noise)
        """, ["mean squared error", "smooth L1"]),
    ("Q6", "t_sample", """
        return torch.randint(1, timesteps + 1, (batch_size,), device=device)
        """, ["1..5", "0..timesteps-1"]),
]


def test_starter_imports_and_scores_0_with_a_message_per_question(grade):
    report = grade("ddpm", starter_source("ddpm"))
    assert report.score == 0
    assert not any("importing your file failed" in note for note in report.notes), report.notes


def test_a_file_written_for_the_original_course_is_found_in_its_folder(grade):
    # Its p_losses computes x_t inline, its p_sample_loop passes keywords and a broadcast t, its
    # t_sample and extract move tensors between devices (all graded in test_rubrics).
    report = grade("ddpm", KIT_ROOT / "tests" / "submissions" / "ddpm", hidden=False)
    assert "ddpm_solution.py" in report.origin
    assert report.score == report.max_score, results.table(report)


NOT_RANDOM_T_SAMPLES = {  # issue 13: a fixed cycle was accepted as uniform
    "a fixed cycle": "return torch.arange(batch_size, device=device) % timesteps",
    "the same draws every call": "return torch.randint(0, timesteps, (batch_size,), "
                                 "generator=torch.Generator().manual_seed(0)).to(device)",
}


@pytest.mark.parametrize("kind", list(NOT_RANDOM_T_SAMPLES))
def test_a_t_sample_that_is_not_random_earns_nothing(grade, kind):
    report = grade("ddpm", replace_solution(reference_source("ddpm"), "t_sample", NOT_RANDOM_T_SAMPLES[kind]))
    assert scores(report)["Q6"] == 0, report.questions[5].messages
    assert all(score == 4 for number, score in scores(report).items() if number in ("Q1", "Q2", "Q3", "Q5"))


# A file that leaves a function unwritten but replaces, at import, the probe that exercises it
# (the probes run in the submission's own interpreter) with one that reports records a correct
# answer would leave -- a noise, the model's call, a loss consistent with them -- without calling
# the model: the checks recompute the model's prediction and the loss, so it earns nothing.
FORGERIES = {
    "p_losses": ("Q5", "p_losses", "p_losses", """
def _forged(sub, x_start, t, tables, model="smooth", offset=0.0, standin_q_sample=False):
    noise = _torch.randn_like(x_start)
    predicted = noise * 0.9  # what the model "predicted": it was never called
    loss = _F.smooth_l1_loss(predicted, noise)
    return {"loss": loss.item(), "attached": True, "gradient": 0.0, "noises": [noise] if standin_q_sample else [],
            "model_calls": [{"x": noise if standin_q_sample else x_start, "t": t.float(), "output": predicted}]}
"""),
    "p_sample_loop": ("Q4", "p_sample_loop", "p_sample_loop", """
def _forged(sub, shape, timesteps):
    x = _torch.zeros(shape)
    calls = [{"x": x, "t": _torch.full((shape[0],), i), "t_index": i, "model": True} \
for i in reversed(range(timesteps))]
    return {"output": _torch.stack([_P.standin_step(x, i) for i in reversed(range(timesteps))]), "device": "cpu",
            "calls": calls}
"""),
}


@pytest.mark.parametrize("forgery", list(FORGERIES))
def test_forged_probe_records_earn_nothing(grade, forgery):
    number, function, probe, forged = FORGERIES[forgery]
    source = replace_solution(reference_source("ddpm"), function, "raise NotImplementedError()")
    source += ("\nimport sys as _sys\nimport torch as _torch\nimport torch.nn.functional as _F\n"
               f"_P = _sys.modules['probes']\n{forged}\n_P.{probe} = _forged\n")
    report = grade("ddpm", source)
    assert scores(report)[number] == 0, [q.messages for q in report.questions if q.name.startswith(number + " ")]
