#!/usr/bin/env python3
"""Writes a chat dataset in the OpenAI batch format (one JSON request per line),
the kind of traffic dataset mode simulates: several applications, each with its
own long system prompt shared by all its requests, multi-turn conversations
whose later turns repeat the earlier ones (a shared conversation prefix), and a
retrieval-augmented app whose requests share a long document. Deterministic.

    python3 scripts/make-sample-dataset.py                         # examples/sample_dataset.jsonl (240 lines)
    python3 scripts/make-sample-dataset.py --lines 100000 -o big.jsonl   # benchmark input
"""
import argparse
import json
import pathlib
import random

SUPPORT = (
    "You are Skye, the customer support assistant of Northwind Airlines. You help travellers with "
    "bookings, changes, cancellations, baggage, seats, special assistance and loyalty questions. "
    "Follow these rules. Be warm, brief and precise; never invent flight numbers, prices or policies. "
    "Economy Light fares cannot be changed; Economy Classic changes cost 60 EUR plus any fare difference; "
    "Economy Flex and Business changes are free until 2 hours before departure. Cancellations of refundable "
    "fares are refunded to the original payment method within 7 business days. Each passenger may bring one "
    "cabin bag of up to 8 kg and 55 x 40 x 23 cm and one personal item; checked bags are 23 kg in Economy and "
    "2 x 32 kg in Business. Sports equipment must be booked at least 48 hours ahead. Unaccompanied minors "
    "aged 5 to 11 must use the escort service. Pets under 8 kg including the carrier may travel in the cabin "
    "on flights under 6 hours. If a flight is delayed more than 3 hours, explain the passenger's rights under "
    "EU Regulation 261/2004 and offer to open a compensation claim. If a question needs the booking, ask for "
    "the six-character booking reference and the passenger's last name, and never ask for card numbers. "
    "Escalate to a human agent when the traveller asks for one, mentions a medical emergency, or is upset "
    "after two replies. Answer in the traveller's language."
)
CODING = (
    "You are a senior software engineer reviewing code and answering programming questions for a team that "
    "writes Rust, Python and TypeScript. Prefer small, idiomatic, well-tested solutions. When you show code, "
    "show complete functions with their imports, explain the reasoning in a few sentences, and point out edge "
    "cases, error handling and performance pitfalls. If a question is ambiguous, state your assumption. Do not "
    "recommend unmaintained libraries. Use British spelling in prose."
)
DOCUMENT = (
    "Context document: Quarterly operations report, Harbour Street data centre. Power: the facility drew an "
    "average of 4.2 MW, up 6 percent on the previous quarter, with a power usage effectiveness of 1.31. Two "
    "of the four chillers were replaced in May; the new units cut cooling energy by 11 percent in June. "
    "Compute: 312 GPU servers were added, each with eight accelerators, bringing the fleet to 1,148 servers. "
    "Average accelerator utilisation was 63 percent during business hours and 41 percent overnight. The "
    "inference cluster served 2.9 billion requests with a median time to first token of 180 ms and a 99th "
    "percentile of 1.4 s; the 99th percentile breached the 1.2 s objective on nine days, all during the "
    "product launch in April, when queueing in the prefill stage doubled. Storage: the object store grew "
    "to 41 PB; erasure coding was moved from 8+3 to 10+4 for new buckets. Network: a second 400G uplink went "
    "live in June, removing the east-west bottleneck seen in April. Incidents: one severity-1 incident (a "
    "failed firmware update on a top-of-rack switch, 47 minutes of partial outage) and four severity-2 "
    "incidents. Staffing: two site reliability engineers joined; on-call load fell from 14 to 9 pages per "
    "week. Next quarter: enable prefix caching on the inference cluster, trial chunked prefill with a 4,096 "
    "token budget, and evaluate moving batch workloads to overnight windows. Budget: capital spend was 18.4 "
    "million EUR against a plan of 19 million; operating spend was on plan."
)
RAG = "Answer only from the context document below. If the answer is not in it, say so. Quote figures exactly.\n\n" + DOCUMENT

SUPPORT_QUESTIONS = [
    "Hi, I booked an Economy Classic ticket to Lisbon for next Friday. Can I move it to Sunday, and what would it cost?",
    "My flight NW 212 from Oslo was delayed by almost four hours yesterday. Am I entitled to anything?",
    "How big can my cabin bag be? I have a small backpack as well.",
    "I want to bring my surfboard to Biarritz in August. What do I need to do?",
    "Can my 9-year-old daughter fly alone to her grandparents in Vienna?",
    "I need to cancel my Flex booking because of a family emergency. How long does the refund take?",
    "Can I take my cat in the cabin? She weighs 5 kg with her carrier.",
    "What's the checked baggage allowance in Business class?",
    "I was charged twice for my seat selection. Booking reference QX7L2P, last name Moreau.",
    "Hola, ¿puedo cambiar mi vuelo de Madrid a Roma sin pagar? Tengo tarifa Economy Light.",
    "I use a wheelchair. How do I request assistance at the airport?",
    "Do I earn loyalty points on award tickets?",
]
SUPPORT_FOLLOW_UPS = [
    ("Sunday works. Please go ahead and change it.", "Thanks. I would need your booking reference and last name to change it; I cannot see bookings without them."),
    ("It was exactly 3 hours and 50 minutes, and nobody offered us food.", "I'm sorry about the wait. Under EU Regulation 261/2004 you are entitled to meals and refreshments after a delay of that length, and compensation may apply; shall I open a claim?"),
    ("Yes please, open the claim.", "Claim opened. You will receive a confirmation email within 24 hours with the next steps."),
]
CODING_QUESTIONS = [
    "Why does this Rust code not compile? `let v = vec![1, 2, 3]; let first = &v[0]; v.push(4); println!(\"{first}\");`",
    "Write a Python function that reads a large CSV file in chunks and returns the mean of one column without loading it all.",
    "In TypeScript, what's the difference between `unknown` and `any`, and when should I use each?",
    "How do I make a Rust HashMap iteration order deterministic for a test snapshot?",
    "Review this: `def add_item(item, items=[]): items.append(item); return items`",
    "Explain how to cancel a long-running async task in Python with asyncio after a timeout.",
    "What is a good way to share a read-only configuration struct between threads in Rust?",
    "Our TypeScript build got slow after adding a monorepo. Where should I start investigating?",
]
CODING_FOLLOW_UPS = [
    ("Can you show the fixed version with a test?", "Here is the fixed version: clone the value you need before mutating the vector, or end the borrow first. The test asserts the pushed element is present."),
    ("And what if the file has a header row with different column names?", "Read the header first with csv.reader, find the index of the column by name, and raise a clear error if it is missing."),
]
RAG_QUESTIONS = [
    "What was the power usage effectiveness last quarter?",
    "How many GPU servers are in the fleet now, and how many were added?",
    "On how many days was the latency objective breached, and why?",
    "What changed in the storage erasure coding?",
    "Summarise the incidents of the quarter.",
    "What are the plans for the inference cluster next quarter?",
    "Was capital spend over or under plan, and by how much?",
    "What is the median time to first token?",
]
SMALL_TALK = [
    "Write a haiku about autumn rain in Kyoto.",
    "Give me three ideas for a 30-minute vegetarian dinner.",
    "Translate into French: 'The meeting has been moved to Thursday at ten.'",
    "Explain the difference between weather and climate to a ten-year-old.",
    "What are good stretches after a long run?",
    "Suggest a name for a bakery that specialises in sourdough.",
]


def request(i, messages, max_tokens):
    return {
        "custom_id": f"request-{i}",
        "method": "POST",
        "url": "/v1/chat/completions",
        "body": {"model": "llama-3-70b-instruct", "messages": messages, "max_tokens": max_tokens},
    }


def conversations(rng):
    """An endless stream of (messages, max_tokens), mixing the apps."""
    while True:
        kind = rng.random()
        if kind < 0.35:
            q = rng.choice(SUPPORT_QUESTIONS)
            messages = [{"role": "system", "content": SUPPORT}, {"role": "user", "content": q}]
            yield messages, rng.choice([256, 384, 512])
            # Some conversations continue: the next request repeats the whole history.
            if rng.random() < 0.4:
                history = list(messages)
                for user, assistant in SUPPORT_FOLLOW_UPS[: rng.randint(1, len(SUPPORT_FOLLOW_UPS))]:
                    history = history + [{"role": "assistant", "content": assistant}, {"role": "user", "content": user}]
                    yield list(history), rng.choice([128, 256])
        elif kind < 0.6:
            q = rng.choice(CODING_QUESTIONS)
            messages = [{"role": "system", "content": CODING}, {"role": "user", "content": q}]
            yield messages, rng.choice([512, 768, 1024])
            if rng.random() < 0.3:
                user, assistant = rng.choice(CODING_FOLLOW_UPS)
                yield messages + [{"role": "assistant", "content": assistant}, {"role": "user", "content": user}], 768
        elif kind < 0.85:
            q = rng.choice(RAG_QUESTIONS)
            yield [{"role": "system", "content": RAG}, {"role": "user", "content": q}], rng.choice([64, 128, 256])
        else:
            yield [{"role": "user", "content": rng.choice(SMALL_TALK)}], rng.choice([128, 256, 512])


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    root = pathlib.Path(__file__).resolve().parent.parent
    parser.add_argument("-o", "--output", default=str(root / "examples" / "sample_dataset.jsonl"))
    parser.add_argument("--lines", type=int, default=240)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    rng = random.Random(args.seed)
    stream = conversations(rng)
    with open(args.output, "w", encoding="utf-8") as out:
        for i in range(args.lines):
            messages, max_tokens = next(stream)
            out.write(json.dumps(request(i, messages, max_tokens), ensure_ascii=False) + "\n")


if __name__ == "__main__":
    main()
