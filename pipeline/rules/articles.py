"""Articles of 《客户服务标准细则》 that rules cite: number, Chinese text and an English gloss."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Article:
    number: str  # "第五十三条"
    title_en: str  # "Article 53"
    text_zh: str
    gloss_en: str


ARTICLES: dict[str, Article] = {
    a.number: a
    for a in [
        Article("第七条", "Article 7",
                "遇有相关窗口工作人员有事外出时,首问责任人要负责记录办理事项和要求,并尽快联系具体承办人员,确定办理时间。",
                "When counter staff are out, the first-contact person records the request and contacts the handler."),
        Article("第十七条", "Article 17",
                "AB角工作制是指客服大厅每一个工作岗位要有两人以上承担,分为A角和B角的工作制度。A角为本职工作岗位的主角,职责是做好本职工作,并对所做的工作承担主要责任。B角是A角的配角,职责是当A角临时外出或任务繁忙时,B角协助或配合A角做好相关工作,并对所做的工作承担相应责任。",
                "A/B-role system: every post has an A and a B; B assists when A is out or busy."),
        Article("第十九条", "Article 19",
                "实行工作岗位AB角工作制度后,A角负责处理分管岗位工作。并将有关情况主动告知B角。A角因事、病请假或外出时,必须将有关工作移交B角处理,保证相关业务的衔接。",
                "A hands work to B when on leave or out."),
        Article("第二十条", "Article 20",
                "B角应熟悉了解A角的工作内容,在A角不在岗期间代行A角的岗位职责,保证业务的正常进行,不得以“人不在”导致办公延误",
                "B covers A's duties while A is away; no delay because 'nobody is there'."),
        Article("第二十一条", "Article 21",
                "在安排工作时,应确保A角和B角不同时外出,保证每项工作都能有人承担。如有特殊情况A角和B角均不在时,他们所承担的工作由客服中心负责人统一安排处理。如遇有人调离或分工调整时,应及时调整AB角配备方案。",
                "A and B must never be out at the same time; if both are, the hall lead arranges cover."),
        Article("第二十三条", "Article 23",
                "举止温文尔雅、落落大方,不矫揉造作。站立时,头正、颈直、挺胸收腹、双肩平垂、两腿挺直,眼神自然平视。落座时,不能出现斜、靠、趴、卧现象。走路从容,不在客服中心内跑动,不与用户抢道、争行。",
                "Seated: no tilting, leaning, lying on the desk or reclining. No running in the hall."),
        Article("第二十九条", "Article 29",
                "与用户交流时,不得出现双手抱胸、托腮、叉腰等行为。沟通过程中面带真诚的微笑,展现春风拂面的服务。",
                "No arms crossed, chin propped or hands on hips when talking with customers."),
        Article("第三十一条", "Article 31",
                "做好延时服务,临近下班时,正在处理中的业务应照常办理完毕,如仍有等候的用户,继续办理,送别用户后方可下班。",
                "Extended service: finish with waiting customers before leaving at closing time."),
        Article("第四十七条", "Article 47",
                "在客户视线所及范围内不得放置个人物品(如:衣物、镜子、化妆品、水壶、零食等)与工作无关的物品。",
                "No personal items (clothes, mirror, cosmetics, bottle, snacks) in the customer's view."),
        Article("第五十一条", "Article 51",
                "严格遵守工作纪律,不得无故旷工、迟到、早退,上班前十分钟到达工作岗位。工作时间不得擅自离开公司,确需外出办理业务,应请示部门负责人同意后方可外出。",
                "No lateness or leaving early; be at the post ten minutes before the shift."),
        Article("第五十二条", "Article 52",
                "工作时间不得聚众聊天,大声笑谈。严禁玩手机、看电影、打游戏、看小说,听音乐上网购物等。",
                "No group chatting; playing with phones is strictly forbidden at work."),
        Article("第五十三条", "Article 53",
                "工作时要保持良好端正的坐姿,不得随意变换岗位,不得有趴伏桌面,跷二郎腿或仰靠椅背等懒散不雅动作。",
                "Sit upright: no lying on the desk, crossed legs or leaning back in the chair."),
        Article("第五十四条", "Article 54",
                "不在用户面前玩手机、拨打私人电话或做其他与工作无关的事。",
                "No phone use or private calls in front of customers."),
    ]
}


def article(number: str) -> Article:
    try:
        return ARTICLES[number]
    except KeyError as exc:  # a programming error in a rule definition
        raise KeyError(f"unknown article {number!r}; known: {', '.join(ARTICLES)}") from exc
