"""Rules: data-driven, per camera, vectorised over detections, driven by frame timestamps."""

from citybrain.rules.base import Observation, Rule, RuleResult
from citybrain.rules.factory import build_rules
from citybrain.rules.hardhat import HARDHAT_KEY, HEAD_SIDE_KEY

__all__ = ["HARDHAT_KEY", "HEAD_SIDE_KEY", "Observation", "Rule", "RuleResult", "build_rules"]
