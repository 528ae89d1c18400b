"""Cost estimates from a price table: USD per million tokens (input, output). The longest
matching model-name prefix wins; cached input tokens are billed at a tenth of the input price.
Override per agent with ``AgentConfig.prices`` or ``agent_config={"prices": {...}}``."""

from __future__ import annotations

from collections.abc import Mapping

__all__ = ["PRICES", "estimate_cost", "price_for"]

#: model prefix -> (USD per 1M input tokens, USD per 1M output tokens)
PRICES: dict[str, tuple[float, float]] = {
    "gpt-4.1-nano": (0.10, 0.40),
    "gpt-4.1-mini": (0.40, 1.60),
    "gpt-4.1": (2.00, 8.00),
    "gpt-4o-mini": (0.15, 0.60),
    "gpt-4o": (2.50, 10.00),
    "gpt-5-nano": (0.05, 0.40),
    "gpt-5-mini": (0.25, 2.00),
    "gpt-5": (1.25, 10.00),
    "o4-mini": (1.10, 4.40),
    "o3": (2.00, 8.00),
    "claude-opus-4": (15.00, 75.00),
    "claude-sonnet-4": (3.00, 15.00),
    "claude-3-7-sonnet": (3.00, 15.00),
    "claude-3-5-haiku": (0.80, 4.00),
    "claude-haiku-4": (1.00, 5.00),
}

CACHED_FACTOR = 0.1


def price_for(
    model: str, prices: Mapping[str, tuple[float, float]] | None = None
) -> tuple[float, float] | None:
    table = dict(PRICES)
    if prices:
        table.update({k: (float(v[0]), float(v[1])) for k, v in prices.items()})
    best: str | None = None
    for prefix in table:
        if model.startswith(prefix) and (best is None or len(prefix) > len(best)):
            best = prefix
    return table[best] if best is not None else None


def estimate_cost(
    model: str,
    input_tokens: int,
    output_tokens: int,
    cached_tokens: int = 0,
    prices: Mapping[str, tuple[float, float]] | None = None,
) -> float | None:
    """USD for one call, or None when the model is not in the table."""
    p = price_for(model, prices)
    if p is None:
        return None
    fresh = max(0, input_tokens - cached_tokens)
    return (fresh * p[0] + cached_tokens * p[0] * CACHED_FACTOR + output_tokens * p[1]) / 1e6
