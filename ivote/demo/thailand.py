"""`ivote demo --scenario thailand`: a Thai general election in small.

Constituencies of Chiang Mai province (เชียงใหม่ เขตเลือกตั้งที่ 1, 2, ...), each electing one
MP among 8 to 10 candidates, with a "vote no" box (ไม่ประสงค์ลงคะแนน); the nationwide party
list (แบบบัญชีรายชื่อ) of 67 parties and "vote no"; and a referendum (ประชามติ) held with
the election, answered เห็นชอบ / ไม่เห็นชอบ / ไม่แสดงความคิดเห็น. Every name is given in Thai
and in English (RTGS transliteration for people). Voters are identified by 13-digit Thai
citizen IDs with their check digit (formats.personal_codes, "thai-citizen-id").

THE PARTIES, CANDIDATES, VOTERS AND THE REFERENDUM QUESTION ARE FICTIONAL: names made up for
the demo; any likeness to a real party or person is a coincidence.
"""

from __future__ import annotations

import datetime as dt
import secrets

from formats.manifest import Candidate, Contest
from formats.names import Name
from formats.personal_codes import THAI_CITIZEN_ID, thai_check_digit
from ivote.demo.scenario import (
    KIND_ANSWERS,
    KIND_CANDIDATES,
    KIND_PARTIES,
    THAILAND,
    District,
    Plan,
    SimContest,
    SimVoter,
    chosen,
)

_random = secrets.SystemRandom()

BANGKOK = dt.timezone(dt.timedelta(hours=7), "ICT")
PROVINCE = {"en": "Chiang Mai", "th": "เชียงใหม่"}
PROVINCE_CODE = "50"  # Chiang Mai's code in the 2nd and 3rd digits of a citizen ID
CONSTITUENCY_CONTEST = "mp"
PARTY_LIST_CONTEST = "party-list"
REFERENDUM_CONTEST = "referendum"
# How many of the parties (the first in PARTY_NAMES) field constituency candidates
FIELDING_PARTIES = 16

# The party list: 67 FICTIONAL parties (Thai, English), in ballot-number order.
PARTY_NAMES = (
    ("พรรคข้าวหอมมะลิ", "Jasmine Rice Party"),
    ("พรรคฟ้าใหม่", "New Sky Party"),
    ("พรรคพลังชาวนา", "Farmers' Power Party"),
    ("พรรคสายน้ำ", "River Party"),
    ("พรรคไทยก้าวใหม่", "Thai New Step Party"),
    ("พรรคประชาร่วมใจ", "People United Party"),
    ("พรรครักถิ่นเกิด", "Love of Home Party"),
    ("พรรคเมืองเหนือ", "Northern Cities Party"),
    ("พรรคเศรษฐกิจสีเขียว", "Green Economy Party"),
    ("พรรคแรงงานไทย", "Thai Labour Party"),
    ("พรรคท้องถิ่นเข้มแข็ง", "Strong Local Government Party"),
    ("พรรคอากาศสะอาด", "Clean Air Party"),
    ("พรรคคนรุ่นใหม่", "Young Generation Party"),
    ("พรรคกระจายอำนาจ", "Decentralisation Party"),
    ("พรรคเสียงประชาชน", "People's Voice Party"),
    ("พรรคโปร่งใส", "Transparency Party"),
    ("พรรคครูและนักเรียน", "Teachers and Students Party"),
    ("พรรคดิจิทัลไทย", "Digital Thailand Party"),
    ("พรรคสุขภาพดีถ้วนหน้า", "Health for All Party"),
    ("พรรคชาวสวนยาง", "Rubber Growers Party"),
    ("พรรคประมงพื้นบ้าน", "Small-Scale Fishers Party"),
    ("พรรคทางรถไฟ", "Railway Party"),
    ("พรรคผู้สูงวัย", "Senior Citizens Party"),
    ("พรรคสหกรณ์ไทย", "Thai Cooperatives Party"),
    ("พรรคเกษตรอินทรีย์", "Organic Farming Party"),
    ("พรรคพลังงานสะอาด", "Clean Energy Party"),
    ("พรรคน้ำใจไทย", "Thai Kindness Party"),
    ("พรรครวมพลังชุมชน", "Community Power Party"),
    ("พรรคนิติธรรม", "Rule of Law Party"),
    ("พรรคต้านโกง", "Anti-Corruption Party"),
    ("พรรคการศึกษาเพื่อทุกคน", "Education for All Party"),
    ("พรรคบ้านมั่นคง", "Secure Housing Party"),
    ("พรรคคนทำงาน", "Working People Party"),
    ("พรรคธุรกิจรายย่อย", "Small Business Party"),
    ("พรรคท่องเที่ยวไทย", "Thai Tourism Party"),
    ("พรรคศิลปะและวัฒนธรรม", "Arts and Culture Party"),
    ("พรรคกีฬาเพื่อชาติ", "Sport for the Nation Party"),
    ("พรรคสิทธิสตรี", "Women's Rights Party"),
    ("พรรคเท่าเทียม", "Equality Party"),
    ("พรรคสัตว์ป่าและสัตว์เลี้ยง", "Wildlife and Pets Party"),
    ("พรรคป่าต้นน้ำ", "Watershed Forests Party"),
    ("พรรคขนส่งมวลชน", "Public Transport Party"),
    ("พรรคชายแดนใต้สันติสุข", "Peaceful Southern Border Party"),
    ("พรรคอีสานรุ่งเรือง", "Prosperous Isan Party"),
    ("พรรคลุ่มน้ำโขง", "Mekong Basin Party"),
    ("พรรคอ่าวไทย", "Gulf of Thailand Party"),
    ("พรรคภูเขาและดอย", "Hills and Mountains Party"),
    ("พรรคชนเผ่าพื้นเมือง", "Indigenous Peoples Party"),
    ("พรรคนวัตกรรมไทย", "Thai Innovation Party"),
    ("พรรควิทยาศาสตร์", "Science Party"),
    ("พรรคสุขภาพจิต", "Mental Health Party"),
    ("พรรคสิทธิคนพิการ", "Disability Rights Party"),
    ("พรรคเกษียณสุข", "Happy Retirement Party"),
    ("พรรคหนี้เป็นศูนย์", "Zero Debt Party"),
    ("พรรคค่าแรงเป็นธรรม", "Fair Wages Party"),
    ("พรรคที่ดินทำกิน", "Farmland for Farmers Party"),
    ("พรรคน้ำสะอาด", "Clean Water Party"),
    ("พรรคเมืองน่าอยู่", "Liveable Cities Party"),
    ("พรรคจักรยาน", "Cycling Party"),
    ("พรรคอาหารปลอดภัย", "Safe Food Party"),
    ("พรรคประชาธิปไตยทางตรง", "Direct Democracy Party"),
    ("พรรคเสรีภาพสื่อ", "Press Freedom Party"),
    ("พรรคสันติภาพ", "Peace Party"),
    ("พรรคอนาคตเด็กไทย", "Thai Children's Future Party"),
    ("พรรคแม่น้ำเสรี", "Free Rivers Party"),
    ("พรรคพลังพลเมือง", "Citizens' Power Party"),
    ("พรรคทางสายกลาง", "Middle Path Party"),
)

# Given names (Thai, RTGS) by sex, and surnames common in the north
MEN = (
    ("สมชาย", "Somchai"), ("สมศักดิ์", "Somsak"), ("ประเสริฐ", "Prasoet"), ("วิชัย", "Wichai"),
    ("ธนากร", "Thanakon"), ("ณัฐพล", "Natthaphon"), ("กิตติพงษ์", "Kittiphong"),
    ("อนุชา", "Anucha"), ("สุรเชษฐ์", "Surachet"), ("ชัยวัฒน์", "Chaiwat"), ("ปิยะ", "Piya"),
    ("ธีรวุฒิ", "Thirawut"),
)  # fmt: skip
WOMEN = (
    ("มาลี", "Mali"), ("สุดารัตน์", "Sudarat"), ("กาญจนา", "Kanchana"), ("ศิริพร", "Siriphon"),
    ("วันเพ็ญ", "Wanphen"), ("ปวีณา", "Pawina"), ("นภัสสร", "Naphatson"),
    ("พิมพ์ชนก", "Phimchanok"), ("อรุณี", "Aruni"), ("รัชนี", "Ratchani"),
    ("จันทร์เพ็ญ", "Chanphen"), ("เยาวลักษณ์", "Yaowalak"),
)  # fmt: skip
SURNAMES = (
    ("ใจดี", "Chaidi"), ("ศรีสุข", "Sisuk"), ("บุญมี", "Bunmi"), ("แสงทอง", "Saengthong"),
    ("ทองดี", "Thongdi"), ("จันทร์แก้ว", "Chankaeo"), ("ศรีวิชัย", "Siwichai"),
    ("ไชยวงศ์", "Chaiwong"), ("คำแสน", "Khamsaen"), ("อินทร์แก้ว", "Inkaeo"),
    ("ปัญญาดี", "Panyadi"), ("กันทะวงศ์", "Kanthawong"), ("สุวรรณรัตน์", "Suwannarat"),
    ("วงศ์ใหญ่", "Wongyai"), ("ธรรมสอน", "Thammason"), ("ดวงดี", "Duangdi"),
)  # fmt: skip

ELECTION_NAME = {
    "en": "General election of members of the House of Representatives and referendum (demo)",
    "th": "การเลือกตั้งสมาชิกสภาผู้แทนราษฎรเป็นการทั่วไป และการออกเสียงประชามติ (สาธิต)",
}
CONSTITUENCY_NAME = {"en": "Constituency MP", "th": "ส.ส. แบบแบ่งเขตเลือกตั้ง"}
PARTY_LIST_NAME = {"en": "Party-list MPs", "th": "ส.ส. แบบบัญชีรายชื่อ"}
REFERENDUM_NAME = {"en": "Referendum", "th": "การออกเสียงประชามติ"}
REFERENDUM_QUESTION = {
    "en": "Do you agree that a new constitution should be drafted by an assembly elected by "
    "the people?",
    "th": "ท่านเห็นชอบว่าสมควรมีการจัดทำรัฐธรรมนูญฉบับใหม่ โดยสภาร่างรัฐธรรมนูญที่มาจาก"
    "การเลือกตั้งของประชาชนหรือไม่",
}
REFERENDUM_ANSWERS = (
    {"en": "Agree", "th": "เห็นชอบ"},
    {"en": "Disagree", "th": "ไม่เห็นชอบ"},
    {"en": "No opinion", "th": "ไม่แสดงความคิดเห็น"},
)


def citizen_id() -> str:
    """A 13-digit Thai citizen ID of a Chiang Mai resident: the person's category (1 born
    after 1984 and registered in time, 3 in a house register in 1984), the province and
    district (amphoe) codes, book and serial numbers, and the check digit."""
    body = (
        _random.choice("1133")
        + PROVINCE_CODE
        + f"{1 + _random.randrange(25):02d}"
        + f"{_random.randrange(100_000):05d}"
        + f"{_random.randrange(100):02d}"
    )
    return body + str(thai_check_digit(body))


def person() -> tuple[Name, str, str]:
    """A candidate's name with the title (นาย Mr., นาง Mrs., นางสาว Ms.), and the Thai given
    name and surname alone."""
    if _random.random() < 0.6:
        (given_th, given_en), titles = _random.choice(MEN), ("นาย", "Mr.")
    else:
        (given_th, given_en) = _random.choice(WOMEN)
        titles = _random.choice((("นาง", "Mrs."), ("นางสาว", "Ms.")))
    surname_th, surname_en = _random.choice(SURNAMES)
    name = Name.of(
        {
            "en": f"{titles[1]} {given_en} {surname_en}",
            "th": f"{titles[0]}{given_th} {surname_th}",
        }
    )
    return name, given_th, surname_th


def constituency(index: int, candidates: int | None, parties: list[tuple[Name, int]]) -> District:
    """Constituency index + 1: its candidates (8 to 10 unless `candidates`), numbered from
    1, each of another party, as popular as their party give or take."""
    count = candidates or 8 + _random.randrange(3)
    fielding = _random.sample(parties[:FIELDING_PARTIES], min(count, FIELDING_PARTIES))
    while len(fielding) < count:  # more candidates than parties field: the others again
        fielding.append(_random.choice(parties))
    people = []
    used: set[str] = set()
    while len(people) < count:
        name, _given, _surname = person()
        if name.text("en") not in used:
            used.add(name.text("en"))
            people.append(Candidate(len(people) + 1, name, fielding[len(people)][0]))
    popularity = tuple(max(1, weight + _random.randrange(-2, 3)) for _party, weight in fielding)
    number = index + 1
    contest = Contest(
        CONSTITUENCY_CONTEST, Name.of(CONSTITUENCY_NAME), tuple(people), vote_no=True
    )
    return District(
        f"chiang-mai-{number}",
        Name.of(
            {
                "en": f"{PROVINCE['en']}, constituency {number}",
                "th": f"{PROVINCE['th']} เขตเลือกตั้งที่ {number}",
            }
        ),
        (SimContest(contest, popularity, KIND_CANDIDATES),),
    )


def make_thai_plan(
    voters: int,
    districts: int,
    candidates: int | None,
    revote_rate: float,
    paper_rate: float,
    check_rate: float,
    vote_no_rate: float,
    now: dt.datetime,
) -> Plan:
    # A few big parties, some middling, many small: the first FIELDING_PARTIES field
    # constituency candidates.
    weights = [30, 25, 20, 15, 10, 8, 6, 5, 4, 4, 3, 3, 2, 2, 2, 2] + [1] * 51
    parties = [
        (Name.of({"en": en, "th": th}), weight)
        for (th, en), weight in zip(PARTY_NAMES, weights, strict=True)
    ]
    party_list = SimContest(
        Contest(
            PARTY_LIST_CONTEST,
            Name.of(PARTY_LIST_NAME),
            tuple(Candidate(i + 1, name) for i, (name, _weight) in enumerate(parties)),
            vote_no=True,
        ),
        tuple(weight for _name, weight in parties),
        KIND_PARTIES,
    )
    referendum = SimContest(
        Contest(
            REFERENDUM_CONTEST,
            Name.of(REFERENDUM_NAME),
            tuple(Candidate(i + 1, Name.of(a)) for i, a in enumerate(REFERENDUM_ANSWERS)),
            question=Name.of(REFERENDUM_QUESTION),
        ),
        (6, 3, 1),
        KIND_ANSWERS,
    )
    made_districts = tuple(constituency(d, candidates, parties) for d in range(districts))
    unique: set[str] = set()
    while len(unique) < voters:
        unique.add(citizen_id())
    codes = sorted(unique)
    _random.shuffle(codes)
    made_voters = []
    for i, code in enumerate(codes):
        _name, given, surname = person()
        made_voters.append(SimVoter(code, given, surname, made_districts[i % districts].id))
    revoters = chosen(codes, revote_rate)
    paper_voters = chosen(codes, paper_rate)
    return Plan(
        scenario=THAILAND,
        election_id=f"th-demo-{now:%Y%m%d-%H%M%S}",
        name=Name.of(ELECTION_NAME),
        districts=made_districts,
        voters=tuple(made_voters),
        revoters=revoters,
        paper_voters=paper_voters,
        checkers=chosen(codes, check_rate),
        # voters whose "vote no" stays their last, counted choice where there are enough
        no_voters=chosen(codes, vote_no_rate, avoid=revoters | paper_voters),
        national=(party_list, referendum),
        personal_code_scheme=THAI_CITIZEN_ID,
        timezone=BANGKOK,
        language="th",
    )
