"""The `ddpm` rubric: full marks for the reference and for a file written for the original course,
0 for the starter, and every wrong variant of a question loses that question's points and no
others (the probes install the real tables and stand-ins, so one mistake is never paid twice)."""
import pytest

from conftest import (KIT_ROOT, assert_only_lost, reference_source, replace_solution, scores,
                      starter_source)
from grading import results

WRONG_VARIANTS = {  # question: (function whose solution region is replaced, wrong body)
    "Q1": ("linear_beta_schedule", """
        betas = linear_beta_schedule(beta_start, beta_end, T)
        alphas = 1.0 - betas
        sqrt_recip_alphas = torch.rsqrt(alphas)
        alphas_cumprod = torch.cumprod(alphas, dim=0)
        sqrt_alphas_cumprod = alphas_cumprod.sqrt()
        sqrt_one_minus_alphas_cumprod = (1.0 - alphas_cumprod).sqrt()
        alphas_cumprod_prev = F.pad(alphas_cumprod[:-1], (1, 0), value=0.0)  # starts at 0, not 1
        posterior_variance = betas * (1.0 - alphas_cumprod_prev) / (1.0 - alphas_cumprod)
        """),
    "Q2": ("q_sample", """
        # x_start forgotten
        return extract(sqrt_alphas_cumprod, t, x_start.shape) + extract(sqrt_one_minus_alphas_cumprod, t, x_start.shape) * noise
        """),
    "Q3": ("p_sample", """
        mean = extract(sqrt_recip_alphas, t, x.shape) * (
            x - extract(betas, t, x.shape) * model(x, t) / extract(sqrt_one_minus_alphas_cumprod, t, x.shape))
        if t_index == 0:
            return mean
        return mean + extract(posterior_variance, t, x.shape) * torch.randn_like(x)  # the variance, not the std
        """),
    "Q4": ("p_sample_loop", """
        for i in range(timesteps):  # from t = 0 up instead of from T - 1 down
            img = p_sample(model, img, torch.full((b,), i, device=device, dtype=torch.long), i)
            imgs.append(img.cpu())
        """),
    "Q5": ("p_losses", """
        noise = torch.randn_like(x_start)
        return F.mse_loss(denoise_model(q_sample(x_start, t, noise=noise), t), noise)  # L2, not smooth L1
        """),
    "Q6": ("t_sample", """
        return torch.randint(1, timesteps + 1, (batch_size,), device=device)  # times in [1, T]
        """),
}

MORE_WRONG_VARIANTS = {
    "Q3": ("p_sample", """
        mean = extract(sqrt_recip_alphas, t, x.shape) * (
            x - extract(betas, t, x.shape) * model(x, t) / extract(sqrt_one_minus_alphas_cumprod, t, x.shape))
        return mean + extract(posterior_variance, t, x.shape).sqrt() * torch.randn_like(x)  # noise at t = 0 too
        """),
    "Q4": ("p_sample_loop", """
        for i in reversed(range(timesteps)):
            imgs.append(img.cpu())  # stored before the step: starts with x_T, misses x_0
            img = p_sample(model, img, torch.full((b,), i, device=device, dtype=torch.long), i)
        """),
    "Q5": ("p_losses", """
        x_noisy = q_sample(x_start, t)  # q_sample draws its own noise...
        return F.smooth_l1_loss(denoise_model(x_noisy, t), torch.randn_like(x_start))  # ...and another is compared
        """),
}

ALSO_WRONG = {  # a consistent loss on uniform noise: only the distribution check can see it
    "Q5": ("p_losses", """
        noise = torch.rand_like(x_start)
        return F.smooth_l1_loss(denoise_model(q_sample(x_start, t, noise=noise), t), noise)
        """),
}
ALL_VARIANTS = (WRONG_VARIANTS, MORE_WRONG_VARIANTS, ALSO_WRONG)


def test_reference_scores_20(grade):
    report = grade("ddpm", reference_source("ddpm"))
    assert (report.score, report.max_score) == (20, 20), results.table(report)


def test_starter_imports_and_scores_0_with_a_message_per_question(grade):
    report = grade("ddpm", starter_source("ddpm"))
    assert report.score == 0
    assert not any("importing your file failed" in note for note in report.notes), report.notes
    for question in report.questions:
        assert question.messages and "not implemented yet" in question.messages[0], question


@pytest.mark.parametrize("number, variants", [(n, v) for v in ALL_VARIANTS for n in v],
                         ids=[f"{n}-{i}" for i, v in enumerate(ALL_VARIANTS) for n in v])
def test_a_wrong_answer_loses_its_own_points_only(grade, number, variants):
    function, body = variants[number]
    report = grade("ddpm", replace_solution(reference_source("ddpm"), function, body))
    assert_only_lost(report, number)


def test_a_file_written_for_the_original_course_gets_full_marks(grade):
    # Its p_losses computes x_t inline, its p_sample_loop passes keywords and a broadcast t, its
    # t_sample and extract move tensors between devices: all correct, all accepted.
    report = grade("ddpm", KIT_ROOT / "tests" / "submissions" / "ddpm")
    assert report.score == 20, results.table(report)
    assert "ddpm_solution.py" in report.origin


def test_scores_do_not_depend_on_how_random_numbers_are_drawn(grade):
    source = reference_source("ddpm")
    for line in ("    noise = torch.randn_like(x_start)\n    x_noisy",
                 "    posterior_std_t = extract(posterior_variance, t, x.shape).sqrt()"):
        indent = line[:len(line) - len(line.lstrip())]
        source = source.replace(line, f"{indent}torch.rand(int(torch.randint(1, 50, (1,))))  # extra draws first\n"
                                      + line, 1)
    first, second = grade("ddpm", source), grade("ddpm", source)
    assert first.score == 20, results.table(first)
    assert scores(first) == scores(second)
