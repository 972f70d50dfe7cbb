"""The simulated world: vocabularies, focal drugs and their planted reaction profiles.

Everything here is fixed (independent of the user's seed) so that every simulation shares
one vocabulary and one set of planted truths; the seed only changes which reports are drawn.

Why each choice:
- background drugs and PTs follow a long-tailed (Zipf-like) frequency, as in FAERS where a
  few hundred drugs and PTs carry most rows;
- focal drugs (baclofen and comparators, domain.md) are over-represented compared with real
  FAERS (baclofen ~1.5% of reports instead of ~0.1%) so that planted signals are detectable
  in a small demo of a few thousand reports per quarter;
- planted strengths are reporting-rate ratios (RR): a report with the drug as suspect lists
  the PT RR times as often as a background report (see ``quarter.plant_reactions``).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

# --- MedDRA PTs ------------------------------------------------------------------------
# Real PT names in a plausible descending-frequency order (rank 0 = most reported).
COMMON_PTS = (
    "Drug ineffective", "Off label use", "Nausea", "Fatigue", "Headache", "Death", "Diarrhoea",
    "Dizziness", "Pain", "Dyspnoea", "Vomiting", "Product use in unapproved indication",
    "Malaise", "Arthralgia", "Rash", "Pruritus", "Pyrexia", "Asthenia", "Condition aggravated",
    "Pneumonia", "Insomnia", "Anxiety", "Weight decreased", "Pain in extremity", "Cough",
    "Fall", "Abdominal pain", "Somnolence", "Drug hypersensitivity", "Back pain", "Hypertension",
    "Depression", "Constipation", "Weight increased", "Oedema peripheral", "Urinary tract infection",
    "Hypotension", "Decreased appetite", "Confusional state", "Alopecia", "Muscle spasms",
    "Tremor", "Paraesthesia", "Seizure", "Chest pain", "Myalgia", "Anaemia", "Vision blurred",
    "Palpitations", "Feeling abnormal", "Hyperhidrosis", "Dehydration", "Memory impairment",
    "Abdominal pain upper", "Infection", "Gait disturbance", "Drug interaction", "Hypoaesthesia",
    "Acute kidney injury", "Sepsis", "Thrombocytopenia", "Neutropenia", "Urticaria",
    "Myocardial infarction", "Cerebrovascular accident", "Blood glucose increased", "Syncope",
    "Loss of consciousness", "Hallucination", "Agitation", "Dry mouth", "Tinnitus", "Balance disorder",
    "Vertigo", "Muscular weakness", "Lethargy", "Overdose", "Toxicity to various agents",
    "Hepatic enzyme increased", "Erythema", "Injection site pain", "Atrial fibrillation",
    "Dysgeusia", "Amnesia", "Disturbance in attention", "Hyponatraemia", "Bradycardia",
    "Tachycardia", "Suicidal ideation", "Abnormal behaviour", "Mental status changes",
    "Cognitive disorder", "Disorientation", "Visual impairment", "Sedation", "Respiratory failure",
    "Coma", "Unresponsive to stimuli", "Dysarthria", "Ataxia", "Hypotonia", "Encephalopathy",
    "Depressed level of consciousness", "Drug withdrawal syndrome", "Withdrawal syndrome",
    "Underdose", "Drug dose omission", "Device malfunction", "Intentional overdose",
    "Accidental overdose", "Suicide attempt", "Completed suicide", "Drug abuse", "Drug dependence",
    "Intentional product misuse", "Respiratory depression", "Apnoea", "Status epilepticus",
    "Generalised tonic-clonic seizure", "Delirium", "Hallucination, visual", "Hallucination, auditory",
    "Psychotic disorder", "Mania", "Paranoia", "Hyperthermia", "Muscle spasticity", "Hypertonia",
    "Muscle rigidity", "Rhabdomyolysis", "Blood creatine phosphokinase increased",
    "Multiple organ dysfunction syndrome", "Disseminated intravascular coagulation",
    "Autonomic dysreflexia", "Blood pressure fluctuation", "Hypothermia", "Myoclonus",
    "Salivary hypersecretion", "Euphoric mood", "Feeling drunk", "Diplopia", "Photophobia",
    "Hypoacusis", "Hyperaesthesia", "Sensory disturbance", "Visual disturbance", "Paraesthesia oral",
    "Thinking abnormal", "Coordination abnormal", "Sleep apnoea syndrome", "Poisoning",
    "Accidental poisoning", "Prescribed overdose", "Drug withdrawal convulsions",
    "Drug withdrawal syndrome neonatal", "Drug withdrawal headache", "Device dislocation",
    "Device breakage", "Device failure", "Medical device complication", "Cerebrospinal fluid leakage",
    "Implant site infection", "Intentional self-injury", "Dependence", "Drug abuser",
    "Drug use disorder", "Drug tolerance", "Drug tolerance increased", "Drug diversion",
    "Intentional product use issue", "Substance-induced psychotic disorder",
    "Substance-induced mood disorder", "Nephrolithiasis", "Glaucoma", "Enuresis", "Somnambulism",
    "Hepatitis", "Neuropathy peripheral", "Alcohol interaction", "Injection site reaction",
    "Drug-induced liver injury", "Interstitial lung disease", "Pulmonary embolism",
    "Deep vein thrombosis", "Cardiac failure", "Renal failure", "Hypokalaemia", "Stevens-Johnson syndrome",
    "Anaphylactic reaction", "Angioedema", "Pancreatitis", "Hepatic failure", "Cellulitis",
    "Herpes zoster", "Influenza", "Nasopharyngitis", "Bronchitis", "Sinusitis", "Osteoporosis",
    "Osteonecrosis of jaw", "Fracture", "Hip fracture", "Contusion", "Skin lesion", "Dry skin",
    "Psoriasis", "Eczema", "Blood pressure increased", "Heart rate increased",
    "Haemoglobin decreased", "White blood cell count decreased", "Platelet count decreased",
    "Blood creatinine increased", "Alanine aminotransferase increased",
    "Aspartate aminotransferase increased", "Weight fluctuation", "Illness", "Inappropriate schedule of product administration",
    "Product dose omission issue", "Incorrect dose administered", "Wrong technique in product usage process",
    "No adverse event", "Therapeutic product effect incomplete", "Disease progression",
    "Malignant neoplasm progression", "Adverse event", "Hospitalisation", "Emotional disorder",
    "Gynaecomastia", "Tardive dyskinesia", "Foetal exposure during pregnancy", "Vomiting projectile",
    "Restless legs syndrome", "Injection site urticaria", "Toxic skin eruption", "Cataract",
    "Type 2 diabetes mellitus", "Intestinal obstruction", "Laryngomalacia", "Dyspepsia",
)

# MedDRA renames: current PT -> the older wording coded before the simulator's cut-over
# (domain.md: "map old strings to current ones"). Written for quarters before OLD_PT_UNTIL.
OLD_PT = {
    "Seizure": "Convulsion",
    "Generalised tonic-clonic seizure": "Grand mal convulsion",
    "Intentional product misuse": "Intentional drug misuse",
    "Multiple organ dysfunction syndrome": "Multi-organ failure",
    "Product used for unknown indication": "Drug use for unknown indication",
}
OLD_PT_UNTIL = (2015, 1)

# Event groups of domain.md (PT names as in FAERS REAC.pt).
GROUPS: dict[str, tuple[str, ...]] = {
    "overdose_narrow": (
        "Overdose", "Accidental overdose", "Intentional overdose", "Prescribed overdose",
        "Toxicity to various agents", "Poisoning", "Accidental poisoning",
    ),
    "overdose_broad": (
        "Somnolence", "Sedation", "Lethargy", "Depressed level of consciousness",
        "Loss of consciousness", "Unresponsive to stimuli", "Coma", "Respiratory depression",
        "Apnoea", "Respiratory failure", "Encephalopathy", "Hypotonia", "Myoclonus", "Seizure",
        "Status epilepticus", "Confusional state", "Hallucination", "Agitation", "Tinnitus",
        "Bradycardia", "Hypotension", "Hypothermia", "Rhabdomyolysis", "Salivary hypersecretion",
    ),
    "withdrawal_narrow": (
        "Drug withdrawal syndrome", "Withdrawal syndrome", "Drug withdrawal convulsions",
        "Drug withdrawal headache",
    ),
    "withdrawal_broad": (
        "Seizure", "Status epilepticus", "Generalised tonic-clonic seizure", "Hallucination",
        "Hallucination, visual", "Hallucination, auditory", "Delirium", "Confusional state",
        "Disorientation", "Agitation", "Anxiety", "Insomnia", "Psychotic disorder", "Mania",
        "Paranoia", "Hyperthermia", "Pyrexia", "Tachycardia", "Blood pressure fluctuation",
        "Autonomic dysreflexia", "Muscle spasticity", "Hypertonia", "Muscle rigidity",
        "Muscle spasms", "Pruritus", "Rhabdomyolysis", "Blood creatine phosphokinase increased",
        "Disseminated intravascular coagulation", "Multiple organ dysfunction syndrome",
    ),
}
PUMP_PTS = (
    "Underdose", "Drug dose omission", "Device malfunction", "Device dislocation",
    "Device breakage", "Device failure", "Medical device complication",
)
PUMP_PT_WEIGHTS = (0.25, 0.15, 0.25, 0.1, 0.1, 0.1, 0.05)

# Symptom domains of domain.md (names as in seeds/receptor_map.csv) with the simulator's own
# receptor-density score (higher = denser GABA-B expression in the domain's region; thalamus
# highest, hypothalamus/brainstem lowest). The simulator reads no seed: the names just match.
DOMAINS: dict[str, tuple[int, tuple[str, ...]]] = {
    "sensory": (9, (
        "Tinnitus", "Paraesthesia", "Hypoaesthesia", "Hyperaesthesia", "Sensory disturbance",
        "Vision blurred", "Visual impairment", "Visual disturbance", "Diplopia", "Dysgeusia",
        "Photophobia", "Hypoacusis", "Paraesthesia oral")),
    "memory_cognition": (8, (
        "Memory impairment", "Amnesia", "Cognitive disorder", "Disturbance in attention",
        "Confusional state", "Disorientation", "Thinking abnormal")),
    "coordination": (7, (
        "Ataxia", "Balance disorder", "Dizziness", "Vertigo", "Dysarthria", "Gait disturbance",
        "Coordination abnormal")),
    "arousal_sedation": (6, (
        "Somnolence", "Sedation", "Lethargy", "Fatigue", "Depressed level of consciousness", "Coma",
        "Unresponsive to stimuli", "Encephalopathy")),
    "motor_tone": (5, ("Hypotonia", "Muscular weakness", "Asthenia")),
    "reward_mood": (4, (
        "Euphoric mood", "Feeling drunk", "Depression", "Mania", "Anxiety", "Agitation",
        "Psychotic disorder")),
    "seizure_threshold": (3, ("Seizure", "Status epilepticus", "Generalised tonic-clonic seizure")),
    "respiratory": (2, ("Respiratory depression", "Apnoea", "Respiratory failure", "Sleep apnoea syndrome")),
    "autonomic_thermoregulation": (1, ("Hypothermia", "Bradycardia", "Hypotension", "Autonomic dysreflexia")),
}

INDICATION_PTS = (
    "Product used for unknown indication", "Hypertension", "Rheumatoid arthritis", "Diabetes mellitus",
    "Pain", "Depression", "Multiple sclerosis", "Plasma cell myeloma", "Psoriasis", "Asthma",
    "Hypercholesterolaemia", "Atrial fibrillation", "Crohn's disease", "Breast cancer", "Epilepsy",
    "Schizophrenia", "Migraine", "Osteoporosis", "HIV infection", "Hepatitis C", "Insomnia",
    "Anxiety", "Prophylaxis", "Gastrooesophageal reflux disease", "Chronic obstructive pulmonary disease",
    "Bipolar disorder", "Attention deficit hyperactivity disorder", "Hypothyroidism", "Neuralgia",
    "Type 2 diabetes mellitus", "Contraception", "Non-small cell lung cancer", "Ulcerative colitis",
)
UNKNOWN_INDICATION = "Product used for unknown indication"
AUD_INDICATIONS = ("Alcoholism", "Alcohol use disorder", "Alcohol abuse", "Alcohol withdrawal syndrome")
AUD_WEIGHTS = (0.45, 0.25, 0.15, 0.15)
SPASTICITY_INDICATIONS = ("Muscle spasticity", "Multiple sclerosis", "Spinal cord injury", "Cerebral palsy")
SPASTICITY_WEIGHTS = (0.5, 0.2, 0.15, 0.15)

_SYN_A = ("Abdominal", "Hepatic", "Renal", "Cardiac", "Pulmonary", "Gastric", "Ocular", "Skin",
          "Muscle", "Joint", "Bone", "Nail", "Ear", "Nasal", "Oral", "Vaginal", "Penile", "Thyroid",
          "Adrenal", "Pancreatic", "Splenic", "Biliary", "Bladder", "Uterine", "Breast", "Lymph node",
          "Tongue", "Gingival", "Lip", "Eyelid", "Retinal", "Corneal", "Colonic", "Rectal", "Anal",
          "Oesophageal", "Tracheal", "Pleural", "Pericardial", "Vascular", "Venous", "Arterial")
_SYN_B = ("pain", "disorder", "swelling", "haemorrhage", "infection", "cyst", "mass", "neoplasm",
          "inflammation", "discomfort", "injury", "oedema", "atrophy", "hypertrophy", "ulcer",
          "discolouration", "fibrosis", "calcification", "stenosis", "abscess", "erosion",
          "necrosis", "perforation", "obstruction", "dysfunction", "failure", "rupture",
          "thrombosis", "congestion", "hyperplasia")


def pt_vocabulary() -> tuple[str, ...]:
    """All PTs, most frequent first: the real names, then a synthetic long tail."""
    names = list(dict.fromkeys(COMMON_PTS + tuple(p for ps in GROUPS.values() for p in ps)
                               + PUMP_PTS + tuple(p for _, ps in DOMAINS.values() for p in ps)))
    seen = set(names)
    for b in _SYN_B:
        for a in _SYN_A:
            n = f"{a} {b}"
            if n not in seen:
                names.append(n)
                seen.add(n)
    return tuple(names)


# --- drugs -----------------------------------------------------------------------------
COMMON_DRUGS = (
    "ADALIMUMAB", "ETANERCEPT", "ASPIRIN", "ATORVASTATIN", "METFORMIN", "LEVOTHYROXINE",
    "OMEPRAZOLE", "LISINOPRIL", "AMLODIPINE", "PREDNISONE", "METHOTREXATE", "INFLIXIMAB",
    "LENALIDOMIDE", "DUPILUMAB", "APIXABAN", "RIVAROXABAN", "PARACETAMOL", "IBUPROFEN",
    "FUROSEMIDE", "SIMVASTATIN", "INSULIN GLARGINE", "SEMAGLUTIDE", "TOFACITINIB", "PEMBROLIZUMAB",
    "NIVOLUMAB", "SERTRALINE", "ESCITALOPRAM", "QUETIAPINE", "OLANZAPINE", "LAMOTRIGINE",
    "LEVETIRACETAM", "WARFARIN", "CLOPIDOGREL", "METOPROLOL", "HYDROCHLOROTHIAZIDE", "LOSARTAN",
    "PANTOPRAZOLE", "TRAMADOL", "OXYCODONE", "MORPHINE", "FENTANYL", "HYDROCODONE", "DULOXETINE",
    "VENLAFAXINE", "ALPRAZOLAM", "LORAZEPAM", "ZOLPIDEM", "CETIRIZINE", "MONTELUKAST", "SECUKINUMAB",
    "USTEKINUMAB", "RITUXIMAB", "OCRELIZUMAB", "NATALIZUMAB", "FINGOLIMOD", "DIMETHYL FUMARATE",
    "TERIFLUNOMIDE", "GLATIRAMER", "INTERFERON BETA-1A", "RIBAVIRIN", "CAPTOPRIL", "RISPERIDONE",
    "METHYLPHENIDATE", "CLONIDINE", "FEXOFENADINE", "MEPERIDINE", "CELECOXIB", "GLIPIZIDE",
)
_SALTS = ("", "", "", " HYDROCHLORIDE", " SODIUM", " CALCIUM", " MALEATE", " ACETATE", " SULFATE")
_SYL1 = ("a", "be", "ca", "da", "e", "fa", "ga", "hy", "i", "ke", "lo", "me", "no", "o", "pa",
         "qui", "ra", "si", "ta", "u", "va", "xe", "zo", "bri", "cle", "dro", "flu", "gli", "pro", "tri")
_SYL2 = ("ba", "ce", "di", "fo", "gu", "la", "mi", "no", "pe", "ri", "so", "te", "vi", "xa", "zi",
         "lu", "mo", "ne", "ro", "ti")
_SYL3 = ("pril", "sartan", "olol", "statin", "mab", "nib", "azole", "cillin", "mycin", "dipine",
         "tidine", "prazole", "oxetine", "apine", "done", "pam", "lam", "vir", "floxacin",
         "gliptin", "parin", "semide", "thiazide", "sone", "lukast", "triptan", "fenac", "profen",
         "zumab", "ximab", "ciclib", "tinib", "rafenib", "lisib", "gatran")
_BRAND1 = ("Zy", "Xa", "Lu", "Vo", "Te", "Ny", "Ca", "Pro", "Re", "Ar", "Be", "Ko", "Si", "Ul", "Em")
_BRAND2 = ("lora", "vex", "mira", "tron", "quil", "bex", "dia", "fenza", "nova", "cor", "lyn", "vant")


def drug_vocabulary(n: int = 3000) -> tuple[list[str], list[str], list[str]]:
    """Background ingredients (upper case), their prod_ai (with salt) and a brand name each."""
    rng = np.random.default_rng(20040101)  # fixed: the vocabulary never depends on the seed
    names = list(COMMON_DRUGS)
    seen = set(names)
    while len(names) < n:
        w = (_SYL1[rng.integers(len(_SYL1))] + _SYL2[rng.integers(len(_SYL2))]
             + ("" if rng.random() < 0.5 else _SYL2[rng.integers(len(_SYL2))])
             + _SYL3[rng.integers(len(_SYL3))]).upper()
        if w not in seen:
            names.append(w)
            seen.add(w)
    prod_ai = [nm + _SALTS[rng.integers(len(_SALTS))] for nm in names]
    brands = [(_BRAND1[rng.integers(len(_BRAND1))] + _BRAND2[rng.integers(len(_BRAND2))]).upper()
              + ("" if rng.random() < 0.7 else f" {rng.choice(['XR', 'SR', 'DS', 'CR'])}")
              for _ in names]
    return names, prod_ai, brands


# --- focal drugs -----------------------------------------------------------------------
@dataclass(frozen=True)
class Focal:
    """A focal drug: how it is reported and what is planted for it.

    ``domains``: domain -> RR applied to every PT of the domain; ``pts``: PT -> RR (a PT's
    RR is the largest of its entries); ``route_pts``: PTs planted for one route class only.
    Doses are daily mg drawn log-normally per indication class.
    """

    ingredient: str
    share: float
    oral_names: tuple[tuple[str, float, int], ...]  # (verbatim, weight, first year)
    prod_ai: str
    indications: tuple[tuple[str, float], ...]  # (indication class, weight)
    indication_pts: dict[str, tuple[str, ...]]
    dose_mg: dict[str, tuple[float, float, float, float]]  # class -> (median, sigma, lo, hi)
    domains: dict[str, float] = field(default_factory=dict)
    pts: dict[str, float] = field(default_factory=dict)
    route_pts: dict[str, dict[str, float]] = field(default_factory=dict)


def _names(*items) -> tuple[tuple[str, float, int], ...]:
    return tuple((n, w, y) for n, w, y in items)


BACLOFEN_ORAL_NAMES = _names(
    ("BACLOFEN", 0.55, 2004), ("LIORESAL", 0.08, 2004), ("KEMSTRO", 0.03, 2004),
    ("OZOBAX", 0.03, 2019), ("OZOBAX DS", 0.01, 2023), ("LYVISPAH", 0.03, 2022),
    ("FLEQSUVY", 0.03, 2022), ("LIOFEN", 0.03, 2004), ("BEKLO", 0.02, 2004), ("LYFLEX", 0.01, 2004),
    ("BACFEN", 0.01, 2004), ("BACLOPHEN", 0.02, 2004), ("BACLOFENE", 0.02, 2004),
    ("BACLOFEN.", 0.03, 2004), ("BACLOFEN 10MG", 0.03, 2004), ("Baclofen", 0.03, 2004),
    ("BACLOF\xc8NE", 0.01, 2004), ("BACLOFEN TABLETS", 0.03, 2004),
)
BACLOFEN_IT_NAMES = _names(
    ("BACLOFEN", 0.35, 2004), ("LIORESAL INTRATHECAL", 0.25, 2004), ("GABLOFEN", 0.25, 2011),
    ("LIORESAL", 0.08, 2004), ("BACLOFEN INTRATHECAL", 0.07, 2004),
)

BACLOFEN_DOMAINS = {  # strength rises with the domain's receptor-density score
    "sensory": 6.0, "memory_cognition": 5.0, "coordination": 4.5, "arousal_sedation": 4.0, "motor_tone": 3.5,
    "reward_mood": 3.0, "seizure_threshold": 2.5, "respiratory": 2.0, "autonomic_thermoregulation": 1.5,
}
# Baclofen overdose / withdrawal: RR per true daily-dose band, multiplied for pump problems.
DOSE_BANDS = ("<=30", "30-80", "80-150", ">150")
BAND_EDGES = (30.0, 80.0, 150.0)
BACLOFEN_GROUP_RR = {
    "overdose_narrow": ((2.0, 3.0, 6.0, 12.0), 2.0),
    "overdose_broad": ((1.5, 2.0, 3.0, 5.0), 1.5),
    "withdrawal_narrow": ((2.0, 3.0, 5.0, 8.0), 3.0),
    "withdrawal_broad": ((1.3, 1.6, 2.2, 3.0), 2.0),
}
# Planted density orderings for tests and benches (``PV_SIM_DENSITY_PLANT``; default: unset = the demo
# world above, BACLOFEN_DOMAINS and each focal drug's own profile). The value is ``none`` (baclofen's
# domains all at RR 2, no ordering) or comma-separated ``<drug>:<slope>`` entries: that drug's domain
# RRs become 2 * 2**(slope * (rank - 3)) on PLANT_RANKS (seeds/domain_regions.csv, lowest rule), its
# unranked domain (respiratory) RR 2, so its pooled IC rises by ``slope`` per rank step; listing a
# negative control (``naltrexone:0.8``) plants an ordering where none is expected. An environment
# variable (not an argument) so that it reaches the spawned quarter workers; same value + seed ->
# same files.
PLANT_ENV = "PV_SIM_DENSITY_PLANT"
PLANT_RANKS = {"sensory": 4, "memory_cognition": 3, "coordination": 4, "arousal_sedation": 3, "motor_tone": 3,
               "reward_mood": 3, "seizure_threshold": 3, "autonomic_thermoregulation": 2}
PLANT_BASE_RR = 2.0


def planted_density_profiles(spec: str | None) -> dict[str, dict[str, float]]:
    """ingredient -> domain RRs replacing its profile, from a ``PV_SIM_DENSITY_PLANT`` value."""
    if not spec:
        return {}
    flat = {d: PLANT_BASE_RR for d in DOMAINS}
    if spec.strip() == "none":
        return {"baclofen": flat}
    out = {}
    for item in spec.split(","):
        drug, _, slope = item.partition(":")
        out[drug.strip().lower()] = flat | {d: PLANT_BASE_RR * 2.0 ** (float(slope) * (r - 3))
                                            for d, r in PLANT_RANKS.items()}
    return out


BACLOFEN_SHARE = 0.015
BACLOFEN_ROUTES = (("intrathecal", 0.55), ("oral", 0.40), ("unknown", 0.05))
PUMP_PROBLEM_SHARE = 0.2  # of intrathecal baclofen reports
BACLOFEN_IT_PTS = {"Cerebrospinal fluid leakage": 40.0, "Implant site infection": 15.0}

AUD = {"aud": AUD_INDICATIONS}

FOCALS: tuple[Focal, ...] = (
    Focal("naltrexone", 0.006, _names(("NALTREXONE", 0.5, 2004), ("REVIA", 0.1, 2004),
          ("NALTREXONE HYDROCHLORIDE", 0.2, 2004), ("VIVITROL", 0.2, 2006)), "NALTREXONE HYDROCHLORIDE",
          (("aud", 0.6), ("other", 0.3), ("unknown", 0.1)),
          {"aud": AUD_INDICATIONS, "other": ("Drug dependence", "Opiate addiction")},
          {"aud": (50, 0.2, 25, 100), "other": (50, 0.2, 25, 100), "unknown": (50, 0.2, 25, 100)},
          domains={"autonomic_thermoregulation": 1.8, "reward_mood": 1.6, "coordination": 1.2},
          pts={"Nausea": 2.5, "Hepatic enzyme increased": 2.5, "Injection site reaction": 8.0}),
    Focal("acamprosate", 0.004, _names(("ACAMPROSATE", 0.4, 2004), ("CAMPRAL", 0.4, 2004),
          ("ACAMPROSATE CALCIUM", 0.2, 2004)), "ACAMPROSATE CALCIUM",
          (("aud", 0.9), ("unknown", 0.1)), AUD,
          {"aud": (1998, 0.1, 666, 2997), "unknown": (1998, 0.1, 666, 2997)},
          domains={"reward_mood": 1.5, "autonomic_thermoregulation": 1.3},
          pts={"Diarrhoea": 4.0, "Pruritus": 2.0}),
    Focal("disulfiram", 0.003, _names(("DISULFIRAM", 0.6, 2004), ("ANTABUSE", 0.4, 2004)), "DISULFIRAM",
          (("aud", 0.95), ("unknown", 0.05)), AUD,
          {"aud": (250, 0.3, 125, 500), "unknown": (250, 0.3, 125, 500)},
          domains={"autonomic_thermoregulation": 2.0, "reward_mood": 1.8, "sensory": 1.2},
          pts={"Hepatitis": 6.0, "Neuropathy peripheral": 4.0, "Alcohol interaction": 15.0}),
    Focal("nalmefene", 0.001, _names(("SELINCRO", 0.7, 2013), ("NALMEFENE", 0.3, 2004)), "NALMEFENE",
          (("aud", 0.9), ("unknown", 0.1)), AUD,
          {"aud": (18, 0.05, 18, 18), "unknown": (18, 0.05, 18, 18)},
          pts={"Nausea": 3.0, "Dizziness": 2.5, "Insomnia": 2.0}),
    Focal("topiramate", 0.006, _names(("TOPIRAMATE", 0.6, 2004), ("TOPAMAX", 0.4, 2004)), "TOPIRAMATE",
          (("other", 0.8), ("aud", 0.05), ("unknown", 0.15)),
          {"aud": AUD_INDICATIONS, "other": ("Epilepsy", "Migraine")},
          {"aud": (200, 0.4, 50, 400), "other": (100, 0.5, 25, 400), "unknown": (100, 0.5, 25, 400)},
          domains={"sensory": 2.5, "memory_cognition": 3.0},
          pts={"Nephrolithiasis": 6.0, "Glaucoma": 5.0, "Weight decreased": 3.0}),
    Focal("gabapentin", 0.012, _names(("GABAPENTIN", 0.6, 2004), ("NEURONTIN", 0.3, 2004),
          ("GRALISE", 0.05, 2011), ("HORIZANT", 0.05, 2011)), "GABAPENTIN",
          (("other", 0.75), ("aud", 0.05), ("unknown", 0.2)),
          {"aud": AUD_INDICATIONS, "other": ("Neuralgia", "Neuropathy peripheral", "Epilepsy", "Pain")},
          {"aud": (1200, 0.4, 300, 3600), "other": (900, 0.5, 100, 3600), "unknown": (900, 0.5, 100, 3600)},
          domains={"coordination": 3.5, "arousal_sedation": 3.0, "memory_cognition": 2.0, "sensory": 1.8,
                   "reward_mood": 2.0, "respiratory": 1.8, "seizure_threshold": 1.3, "motor_tone": 1.5,
                   "autonomic_thermoregulation": 1.2},
          pts={"Oedema peripheral": 3.0, "Weight increased": 2.5}),
    Focal("pregabalin", 0.010, _names(("PREGABALIN", 0.5, 2005), ("LYRICA", 0.5, 2005)), "PREGABALIN",
          (("other", 0.8), ("unknown", 0.2)),
          {"other": ("Neuralgia", "Fibromyalgia", "Neuropathy peripheral", "Anxiety")},
          {"other": (300, 0.5, 50, 600), "unknown": (300, 0.5, 50, 600)},
          domains={"coordination": 4.0, "arousal_sedation": 3.0, "sensory": 2.2, "memory_cognition": 2.0,
                   "reward_mood": 2.5, "respiratory": 1.5, "seizure_threshold": 1.2, "motor_tone": 1.3,
                   "autonomic_thermoregulation": 1.2},
          pts={"Oedema peripheral": 3.5, "Weight increased": 3.0}),
    Focal("sodium oxybate", 0.006, _names(("XYREM", 0.6, 2004), ("SODIUM OXYBATE", 0.2, 2004),
          ("XYWAV", 0.15, 2020), ("LUMRYZ", 0.05, 2023)), "SODIUM OXYBATE",
          (("other", 0.85), ("aud", 0.05), ("unknown", 0.1)),
          {"aud": AUD_INDICATIONS, "other": ("Narcolepsy", "Cataplexy")},
          {"aud": (4500, 0.3, 2250, 9000), "other": (6000, 0.3, 2250, 9000), "unknown": (6000, 0.3, 2250, 9000)},
          domains={"arousal_sedation": 4.0, "respiratory": 3.0, "memory_cognition": 2.2, "coordination": 2.0,
                   "reward_mood": 2.0, "sensory": 1.2, "seizure_threshold": 1.5, "motor_tone": 1.5,
                   "autonomic_thermoregulation": 1.3},
          pts={"Enuresis": 6.0, "Somnambulism": 6.0, "Nausea": 2.0}),
    Focal("clonazepam", 0.008, _names(("CLONAZEPAM", 0.6, 2004), ("KLONOPIN", 0.3, 2004),
          ("RIVOTRIL", 0.1, 2004)), "CLONAZEPAM",
          (("other", 0.8), ("unknown", 0.2)),
          {"other": ("Panic disorder", "Epilepsy", "Anxiety")},
          {"other": (1.5, 0.5, 0.25, 6), "unknown": (1.5, 0.5, 0.25, 6)},
          domains={"arousal_sedation": 3.5, "coordination": 3.0, "memory_cognition": 3.0, "reward_mood": 2.0,
                   "respiratory": 2.0, "sensory": 1.2, "motor_tone": 2.0, "autonomic_thermoregulation": 1.1},
          pts={"Drug dependence": 3.0}),
    Focal("tizanidine", 0.005, _names(("TIZANIDINE", 0.7, 2004), ("ZANAFLEX", 0.3, 2004)),
          "TIZANIDINE HYDROCHLORIDE",
          (("spasticity", 0.8), ("unknown", 0.2)), {"spasticity": SPASTICITY_INDICATIONS},
          {"spasticity": (12, 0.5, 2, 36), "unknown": (12, 0.5, 2, 36)},
          domains={"arousal_sedation": 3.0, "autonomic_thermoregulation": 3.0},
          pts={"Dry mouth": 4.0, "Hepatic enzyme increased": 2.5}),
    Focal("dantrolene", 0.002, _names(("DANTROLENE", 0.5, 2004), ("DANTRIUM", 0.4, 2004),
          ("RYANODEX", 0.1, 2014)), "DANTROLENE SODIUM",
          (("spasticity", 0.7), ("other", 0.1), ("unknown", 0.2)),
          {"spasticity": SPASTICITY_INDICATIONS, "other": ("Malignant hyperthermia",)},
          {"spasticity": (100, 0.5, 25, 400), "other": (100, 0.5, 25, 400), "unknown": (100, 0.5, 25, 400)},
          pts={"Drug-induced liver injury": 8.0, "Muscular weakness": 3.0}),
)

NEGATIVE_CONTROLS = (
    ("baclofen", "Neutropenia"), ("baclofen", "Alopecia"), ("baclofen", "Myocardial infarction"),
    ("baclofen", "Psoriasis"), ("naltrexone", "Tinnitus"), ("naltrexone", "Memory impairment"),
    ("acamprosate", "Ataxia"), ("acamprosate", "Memory impairment"), ("disulfiram", "Tinnitus"),
    ("gabapentin", "Neutropenia"), ("pregabalin", "Alopecia"), ("tizanidine", "Tinnitus"),
    ("adalimumab", "Tinnitus"), ("metformin", "Memory impairment"), ("aspirin", "Ataxia"),
    ("atorvastatin", "Drug withdrawal syndrome"), ("omeprazole", "Overdose"),
)

COUNTRIES = (  # ISO-2, legacy name, weight
    ("US", "UNITED STATES", 0.58), ("GB", "UNITED KINGDOM", 0.05), ("FR", "FRANCE", 0.05),
    ("DE", "GERMANY", 0.04), ("JP", "JAPAN", 0.05), ("CA", "CANADA", 0.04), ("IT", "ITALY", 0.03),
    ("ES", "SPAIN", 0.02), ("AU", "AUSTRALIA", 0.02), ("BR", "BRAZIL", 0.02), ("CN", "CHINA", 0.02),
    ("IN", "INDIA", 0.01), ("NL", "NETHERLANDS", 0.01), ("EU", "EUROPEAN UNION", 0.01),
    ("COUNTRY NOT SPECIFIED", "COUNTRY NOT SPECIFIED", 0.05),
)
FIRMS = (
    ("PFIZER", "PFIZER"), ("NOVARTIS", "NOVARTIS"), ("ROCHE", "ROCHE"), ("JNJFOC", "JOHNSON AND JOHNSON"),
    ("SANOFI-AVENTIS", "SANOFI AVENTIS"), ("TEVA", "TEVA"), ("AMGEN", "AMGEN"), ("ABBVIE", "ABBVIE"),
    ("BRISTOL-MYERS SQUIBB COMPANY", "BRISTOL MYERS SQUIBB"), ("MYLAN", "MYLAN"),
    ("SAOL", "SAOL THERAPEUTICS"), ("PIRAMAL", "PIRAMAL CRITICAL CARE"), ("GSK", "GLAXOSMITHKLINE"),
    ("MERCK", "MERCK SHARP AND DOHME"), ("ASTRAZENECA", "ASTRAZENECA"), ("CUBIST", "CUBIST"),
)
