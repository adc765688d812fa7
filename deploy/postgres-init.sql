-- The ledger's database is POSTGRES_DB (ledger); Rasa's tracker store gets its own.
CREATE DATABASE rasa;
