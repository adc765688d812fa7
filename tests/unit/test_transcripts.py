from bot.transcripts import WITHHELD, transcript


def test_identity_answers_and_card_numbers_never_reach_the_transcript():
    events = [
        {"event": "user", "text": "how much do i owe"},
        {"event": "slot", "name": "requested_slot", "value": "dob_answer"},
        {"event": "bot", "text": "What is your date of birth?"},
        {"event": "user", "text": "3/4/85"},
        {"event": "slot", "name": "requested_slot", "value": "zip_answer"},
        {"event": "user", "text": "94110"},
        {"event": "slot", "name": "requested_slot", "value": None},
        {"event": "user", "text": "my card is 4242 4242 4242 4242"},
    ]
    lines = transcript(events)
    texts = [line["text"] for line in lines]
    assert texts[0] == "how much do i owe"
    assert texts[2] == WITHHELD and texts[3] == WITHHELD
    assert "4242" not in texts[4]
    assert [line["from"] for line in lines] == ["consumer", "bot", "consumer", "consumer", "consumer"]
