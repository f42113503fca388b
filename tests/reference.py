"""Independent references the tests compare the engine with: a torch.nn network and optimiser."""

from __future__ import annotations

import torch

from alnn.model import BatchedMLP


def torch_network(seed: tuple, I: int, K: int, config, *, sigmoid_output: bool = True):
    """A float64 torch.nn network with the engine's initial weights of ``seed`` ((seed, tag, t, f, member)) and
    torch.optim.SGD with the configuration's learning rate, momentum and weight decay."""
    init = BatchedMLP.initialise([seed], I, config.hidden, K, dtype=torch.float64)
    layers = [torch.nn.Linear(I, config.hidden), torch.nn.Sigmoid(), torch.nn.Linear(config.hidden, K)]
    if sigmoid_output:
        layers.append(torch.nn.Sigmoid())
    net = torch.nn.Sequential(*layers).double()
    with torch.no_grad():
        for dst, src in zip((net[0].weight, net[0].bias, net[2].weight, net[2].bias), init.parameters()):
            dst.copy_(src[0])
    opt = torch.optim.SGD(net.parameters(), lr=config.lr, momentum=config.momentum,
                          weight_decay=config.weight_decay)
    return net, opt
