"""desk.personal_items: personal things on the customer-visible desk (第四十七条).

An item counts when its class is on the configured list and the scene put its
centre on a desk surface. It is tracked per (post, class), not per detection, so
a bottle that the detector loses for a frame or two keeps one timer.
"""

from __future__ import annotations

from pydantic import Field

from pipeline.config.rule_params import RuleParams, Severity
from pipeline.rules.base import Finding, Rule, register
from pipeline.scene.facts import SceneFacts

# COCO has no mirror or cosmetics class: a fine-tuned detector adds them to this list.
DEFAULT_ITEMS = [
    "bottle", "cup", "wine glass", "bowl", "banana", "apple", "orange", "sandwich", "hot dog", "pizza", "donut",
    "cake", "handbag", "backpack", "suitcase", "umbrella", "teddy bear", "hair drier", "toothbrush",
]


class PersonalItemsParams(RuleParams):
    min_duration_s: float = Field(60.0, ge=0, le=86400, description="Item on the desk this long before an event starts")
    clear_after_s: float = Field(10.0, ge=0, le=3600, description="Item gone this long ends the event")
    cooldown_s: float = Field(300.0, ge=0, le=86400, description="Quiet time after an event ends")
    severity: Severity = Field("low", description="Base severity")
    item_classes: list[str] = Field(default_factory=lambda: list(DEFAULT_ITEMS),
                                    description="Detector classes that are personal items")
    min_conf: float = Field(0.3, ge=0, le=1, description="Ignore item detections under this confidence")


@register
class PersonalItems(Rule):
    rule_id = "desk.personal_items"
    article = "第四十七条"
    name_zh = "桌面个人物品"
    name_en = "Personal items on the desk"
    Params = PersonalItemsParams

    def judge(self, facts: SceneFacts) -> list[Finding]:
        p = self.params
        names = set(p.item_classes)
        found: dict[tuple, list] = {}
        for o in facts.objects:
            if o.class_name in names and o.on_desk and o.confidence >= p.min_conf:
                found.setdefault(("item", o.post_id, o.class_name), []).append(o)
        out = []
        for key, objs in found.items():
            best = max(objs, key=lambda o: o.confidence)
            out.append(Finding(key, True, post_id=key[1], details={
                "item": key[2], "count": len(objs), "confidence": round(float(best.confidence), 3),
                "box": [round(float(v), 1) for v in best.xyxy]}, score=float(best.confidence)))
        return out
