"""The LM family (issue 10): corpus split, ensemble == reference, the monogenic rule, the CLI end to end."""

from __future__ import annotations

import hashlib
import json
import math

import numpy as np
import pytest
import torch

from grokscope.errors import ConfigError
from grokscope.models import Transformer
from grokscope.quanta._lm import LM, LMEnsemble, lm_config
from grokscope.quanta._lm_corpus import Corpus, stdlib_files
from grokscope.quanta._lm_tokens import classify_curves


def _files(n: int = 60) -> dict[str, bytes]:
    rng = np.random.default_rng(0)
    return {f"pkg{i % 7}/mod_{i}.py": bytes(rng.integers(1, 256, 5 + i % 11).tolist()) for i in range(n)}


# ----------------------------------------------------------------------------- corpus


def test_split_follows_the_path_hash_rule_is_disjoint_and_ignores_input_order():
    files = _files()
    c = Corpus.from_files(files, held_out_frac=0.3)
    truth = {p for p in files if int.from_bytes(hashlib.sha256(p.encode()).digest()[:8], "big") < 0.3 * 2**64}
    assert set(c.held_out_files) == truth and 0 < len(truth) < len(files)
    assert set(c.train_files).isdisjoint(c.held_out_files) and set(c.train_files) | truth == set(files)
    assert c.train_files == sorted(c.train_files) and c.held_out_files == sorted(c.held_out_files)
    expect = b"".join(files[p] + b"\0" for p in sorted(set(files) - truth))
    assert bytes(c.train.tolist()) == expect
    shuffled = Corpus.from_files(dict(reversed(list(files.items()))), held_out_frac=0.3)
    assert torch.equal(shuffled.train, c.train) and torch.equal(shuffled.held_out, c.held_out)
    assert shuffled.info["list_sha256"] == c.info["list_sha256"]
    # a file's side depends on its own path only: removing others moves nobody
    fewer = Corpus.from_files({p: files[p] for p in list(files)[::2]}, held_out_frac=0.3)
    assert set(fewer.held_out_files) == truth & set(list(files)[::2])


def test_stdlib_files_skip_tests_and_site_packages(tmp_path):
    for rel in ("a.py", "pkg/b.py", "test/t.py", "pkg/tests/u.py", "idlelib/idle_test/v.py", "site-packages/w.py",
                "pkg/c.txt"):
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_text("x = 1\n")
    assert list(stdlib_files(tmp_path)) == ["a.py", "pkg/b.py"]


# ----------------------------------------------------------------------------- model


@pytest.mark.parametrize("per_member_tokens", [False, True])
def test_ensemble_member_equals_reference_outputs_and_gradients(per_member_tokens):
    cfg = lm_config(32, 2, n_ctx=12)
    ens = LMEnsemble(cfg, 3, dtype=torch.float64).init_([5, 6, 7])
    gen = torch.Generator().manual_seed(0)
    tok = torch.randint(0, 256, (3, 4, 10) if per_member_tokens else (4, 10), generator=gen)  # T = 10 < n_ctx
    y = torch.randint(0, 256, (4, 10), generator=gen)
    logits = ens(tok)  # [model, batch, T, vocab]
    loss = sum(torch.nn.functional.cross_entropy(logits[i].reshape(-1, 256), y.reshape(-1)) for i in range(3))
    loss.backward()
    grads = dict(ens.named_parameters())
    for i in range(3):
        ref = LM(cfg, dtype=torch.float64).init_([5, 6, 7][i])  # the reference from the same seed
        out = ref(tok[i] if per_member_tokens else tok)
        torch.testing.assert_close(logits[i], out, rtol=1e-12, atol=1e-12)
        torch.nn.functional.cross_entropy(out.reshape(-1, 256), y.reshape(-1)).backward()
        for name, p in ref.named_parameters():
            torch.testing.assert_close(grads[name].grad[i], p.grad, rtol=1e-10, atol=1e-12)


def test_grokscope_transformer_with_the_lm_weights_gives_the_last_position():
    """What QDG clusters: models.Transformer on a window == the LM's logits at the window's last position."""
    cfg = lm_config(16, 1, n_ctx=8)
    lm = LM(cfg, dtype=torch.float64).init_(3)
    tr = Transformer(cfg, dtype=torch.float64)
    tr.load_state_dict(lm.state_dict())
    tok = torch.randint(0, 256, (5, 8), generator=torch.Generator().manual_seed(1))
    torch.testing.assert_close(tr(tok), lm(tok)[:, -1], rtol=1e-12, atol=1e-12)


def test_lm_config_and_tokens_are_checked():
    with pytest.raises(ConfigError, match="d_model=40"):
        lm_config(40)
    ens = LMEnsemble(lm_config(16, 1, n_ctx=8), 2)
    with pytest.raises(ConfigError, match="T <= 8"):
        ens(torch.zeros(1, 9, dtype=torch.long))


# ----------------------------------------------------------------------------- the monogenic rule


def test_monogenic_rule_on_synthetic_curves():
    logn = np.log(np.array([6e3, 25e3, 56e3, 1e5, 2.2e5]))  # the default family's N
    K = logn.size
    steps = [np.where(np.arange(K) <= j, 5.0, 0.3) for j in range(K - 1)]  # one sharp drop after size j
    linear = 5.0 - 4.0 * (logn - logn[0]) / (logn[-1] - logn[0])  # gradual: linear in log N, 4 bits in all
    power = 6.0 * np.exp(logn - logn[0]) ** -0.5  # a smooth power law in N: 0.61 of its descent in the first step
    zigzag = np.array([5.0, 2.0, 4.0, 1.5, 1.0])  # the big drop is 3 of 6.5 bits of positive drops
    flat = np.array([0.2, 0.15, 0.1, 0.1, 0.05])  # predicted by every size
    hard = np.array([7.0, 6.8, 6.6, 6.5, 6.4])  # predicted by none (0.6 bit total)
    near = np.array([5.0, 5.0, 1.9, 1.5, 1.0])  # 3.1 of 4 bits in one step: share 0.775
    curves = np.stack(steps + [linear, power, zigzag, flat, hard, near])
    labels = classify_curves(curves).tolist()
    assert labels == ["monogenic"] * 4 + ["polygenic", "polygenic", "polygenic", "flat", "flat", "monogenic"]
    # the share threshold and the minimum drop are what they say
    assert classify_curves(near[None], share=0.8).tolist() == ["polygenic"]
    assert classify_curves(hard[None], min_drop=0.5).tolist() == ["polygenic"]
    with pytest.raises(ConfigError, match="share=1.5"):
        classify_curves(curves, share=1.5)


# ----------------------------------------------------------------------------- the CLI, end to end


def test_tiny_family_through_the_cli(run_cli, tmp_path):
    out = tmp_path / "fam"
    code, stdout, err = run_cli("quanta", "lm-train", out, "--widths", "16,32", "--members", "2", "--steps", "6",
                                "--batch", "4", "--n-ctx", "16", "--eval-windows", "24", "--curve-windows", "8",
                                "--n-boot", "0")
    assert code == 0, err
    fam = json.loads((out / "family.json").read_text())
    assert [w["d_model"] for w in fam["widths"]] == [16, 32] and fam["corpus"]["n_files"] > 100
    assert fam["corpus"]["n_train_files"] + fam["corpus"]["n_held_out_files"] == fam["corpus"]["n_files"]
    assert "L(N)" in stdout and "corpus: Python" in stdout and (out / "fits.json").is_file()

    # the stored per-token losses are the reference LM's, recomputed from the stored weights and the corpus
    from grokscope.quanta._lm_train import load_family

    family = load_family(out)
    corpus = Corpus.stdlib(held_out_frac=0.1)
    s = int(family.starts[3])
    window = corpus.held_out[s : s + 17].long()
    ref = family.ensemble(32).member(1)
    logp = torch.log_softmax(ref(window[None, :-1])[0], -1)  # [16, 256]
    expect = -logp[torch.arange(8, 16), window[9:]]
    np.testing.assert_allclose(family.losses[1, 1, 3], expect.detach().numpy(), rtol=1e-4, atol=1e-5)
    assert math.isclose(fam["widths"][1]["final_loss"][1], float(family.losses[1, 1].mean()), rel_tol=1e-5)

    code, stdout, err = run_cli("quanta", "lm-tokens", out, "--examples", "2", "--json")
    assert code == 0, err
    tok = json.loads(stdout)
    assert tok["n_tokens"] == 24 * 8 and math.isclose(sum(tok["fractions"].values()), 1.0)

    code, stdout, err = run_cli("quanta", "lm-qdg", out, "--samples", "24", "--clusters", "2,3",
                                "--max-loss-bits", "100", "--n-boot", "10", "--json")
    assert code == 0, err
    q = json.loads(stdout)
    assert q["width"] == 32 and q["summary"]["n_samples"] == 24 and len(q["examples"]) == 3
    assert all("⟦" in e["text"] for c in q["examples"] for e in c["examples"])


@pytest.mark.parametrize("args,match", [
    (["lm-train", "X", "--widths", "0"], "--widths=0"),
    (["lm-train", "X", "--widths", "20"], "widths=20"),
    (["lm-train", "X", "--tokenizer", "bpe"], "--tokenizer='bpe'"),
    (["lm-train", "X", "--members", "0"], "members=0"),
    (["lm-train", "X", "--steps", "-3"], "steps=-3"),
    (["lm-tokens", "X"], "must be a directory written by"),
    (["lm-tokens", "X", "--share", "2"], "--share=2"),
    (["lm-qdg", "X", "--clusters", "a"], "--clusters='a'"),
])
def test_bad_input_is_one_line_and_exit_code_2(args, match, run_cli, tmp_path):
    args = [str(tmp_path / "none") if a == "X" else a for a in args]
    code, _, err = run_cli("quanta", *args)
    err = err.strip()
    assert code == 2 and match in err and "\n" not in err and err.startswith("error:")
    assert not (tmp_path / "none").exists()
