"""Time integrators (physical time t) and λ-samplers (reverse RG)."""

__all__: list[str] = []
