"""The batched PyTorch ensemble baseline computes the same loss and gradients as the loop over
separate PyTorch members (same weights), so the two baselines of the ensemble benchmark differ only
in how the work is batched."""

import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
torch = pytest.importorskip("torch")

from ensemble_training import ACT, OBS, E, torch_models  # noqa: E402


def test_batched_torch_ensemble_matches_member_loop():
    torch.manual_seed(0)
    member_cls, batched_cls = torch_models((8, 8))
    members, batched = [member_cls() for _ in range(E)], batched_cls()
    with torch.no_grad():  # the batch takes each member's weights: [out, in] -> [E, in, out]
        linears = [[m for m in member.net if isinstance(m, torch.nn.Linear)] for member in members]
        for i, (w, b) in enumerate(zip(batched.weights, batched.biases, strict=True)):
            w.copy_(torch.stack([lin[i].weight.T for lin in linears]))
            b.copy_(torch.stack([lin[i].bias[None] for lin in linears]))
        for e, member in enumerate(members):  # distinct log-variance bounds per member
            member.max_logvar.add_(0.1 * e)
            member.min_logvar.sub_(0.2 * e)
            batched.max_logvar[e, 0].copy_(member.max_logvar)
            batched.min_logvar[e, 0].copy_(member.min_logvar)
    x, y = torch.randn(E, 16, OBS + ACT), torch.randn(E, 16, OBS + 1)
    loop_loss = sum(member.loss(x[e], y[e]) for e, member in enumerate(members))
    loop_loss.backward()
    loss = batched.loss(x, y)
    loss.backward()
    np.testing.assert_allclose(loss.item(), loop_loss.item(), rtol=1e-5)
    for e, lin in enumerate(linears):
        for i, (w, b) in enumerate(zip(batched.weights, batched.biases, strict=True)):
            np.testing.assert_allclose(w.grad[e].numpy(), lin[i].weight.grad.T.numpy(),
                                       rtol=1e-4, atol=1e-6)
            np.testing.assert_allclose(b.grad[e, 0].numpy(), lin[i].bias.grad.numpy(),
                                       rtol=1e-4, atol=1e-6)
        np.testing.assert_allclose(batched.max_logvar.grad[e, 0].numpy(),
                                   members[e].max_logvar.grad.numpy(), rtol=1e-4, atol=1e-6)
