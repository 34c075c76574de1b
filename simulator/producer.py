"""The MVP producer database: ``customers`` and ``addresses``, as ``model_repo_template/eco.py``
describes them, with keys, foreign keys both ways, indexes, id sequences and the seed's data.

Column names are unquoted (lower case), as producers usually create them; snapshot-merge matches
them to the model's names case-insensitively.
"""

from __future__ import annotations

from sqlalchemy import create_engine, text
from sqlalchemy.engine import Connection, Engine

from pgtools.urls import ensure_database, psycopg2_url

SCHEMA_DDL = [
    """CREATE TABLE IF NOT EXISTS customers (
        id varchar(20) PRIMARY KEY,
        firstName varchar(100) NOT NULL,
        lastName varchar(100) NOT NULL,
        dob date NOT NULL,
        email varchar(100),
        phone varchar(100),
        primaryAddressId varchar(20),
        billingAddressId varchar(20))""",
    """CREATE TABLE IF NOT EXISTS addresses (
        id varchar(20) PRIMARY KEY,
        customerId varchar(20) NOT NULL,
        streetName varchar(100) NOT NULL,
        city varchar(100) NOT NULL,
        state varchar(100) NOT NULL,
        zipCode varchar(30) NOT NULL)""",
    # Both directions reference each other: deferred, so one transaction can create a customer with its address.
    """DO $$ BEGIN
        IF NOT EXISTS (SELECT 1 FROM pg_constraint WHERE conname = 'addresses_customer_fk') THEN
            ALTER TABLE addresses ADD CONSTRAINT addresses_customer_fk FOREIGN KEY (customerId)
                REFERENCES customers (id) DEFERRABLE INITIALLY DEFERRED;
        END IF;
        IF NOT EXISTS (SELECT 1 FROM pg_constraint WHERE conname = 'customers_primary_address_fk') THEN
            ALTER TABLE customers ADD CONSTRAINT customers_primary_address_fk FOREIGN KEY (primaryAddressId)
                REFERENCES addresses (id) DEFERRABLE INITIALLY DEFERRED;
        END IF;
        IF NOT EXISTS (SELECT 1 FROM pg_constraint WHERE conname = 'customers_billing_address_fk') THEN
            ALTER TABLE customers ADD CONSTRAINT customers_billing_address_fk FOREIGN KEY (billingAddressId)
                REFERENCES addresses (id) DEFERRABLE INITIALLY DEFERRED;
        END IF;
    END $$""",
    "CREATE INDEX IF NOT EXISTS addresses_customer_idx ON addresses (customerId)",
    "CREATE INDEX IF NOT EXISTS customers_email_idx ON customers (email)",
    "CREATE INDEX IF NOT EXISTS customers_name_idx ON customers (lastName, firstName)",
    # Ids come from sequences so that concurrent simulators never collide.
    "CREATE SEQUENCE IF NOT EXISTS customer_id_seq START 6",
    "CREATE SEQUENCE IF NOT EXISTS address_id_seq START 9",
]

SEED_CUSTOMERS = [
    ("C1", "Alice", "Johnson", "1985-03-15", "alice.johnson@email.com", "555-0101", "A1", "A2"),
    ("C2", "Bob", "Smith", "1990-07-22", "bob.smith@email.com", "555-0102", "A3", "A3"),
    ("C3", "Carol", "Williams", "1978-11-08", "carol.williams@email.com", "555-0103", "A4", "A5"),
    ("C4", "David", "Brown", "1982-05-30", "david.brown@email.com", "555-0104", "A6", "A6"),
    ("C5", "Eve", "Davis", "1995-01-12", "eve.davis@email.com", "555-0105", "A7", "A8"),
]
SEED_ADDRESSES = [
    ("A1", "C1", "123 Main St", "New York", "NY", "10001"),
    ("A2", "C1", "456 Oak Ave", "New York", "NY", "10002"),
    ("A3", "C2", "789 Pine Rd", "Los Angeles", "CA", "90210"),
    ("A4", "C3", "321 Elm St", "Chicago", "IL", "60601"),
    ("A5", "C3", "654 Maple Dr", "Chicago", "IL", "60602"),
    ("A6", "C4", "987 Cedar Ln", "Houston", "TX", "77001"),
    ("A7", "C5", "147 Birch Way", "Phoenix", "AZ", "85001"),
    ("A8", "C5", "258 Spruce St", "Phoenix", "AZ", "85002"),
]


def producer_engine(url: str, **kwargs: object) -> Engine:
    """An engine for the producer database at ``url`` (libpq form)."""
    return create_engine(
        psycopg2_url(url), connect_args={"application_name": "datasurface-simulator", "connect_timeout": 5}, **kwargs
    )


def init_producer(url: str, drop: bool = False) -> dict[str, int]:
    """Create the schema and seed it; idempotent without ``drop``. Returns row counts."""
    ensure_database(url)
    engine = producer_engine(url)
    try:
        with engine.begin() as conn:
            if drop:
                conn.execute(text("DROP TABLE IF EXISTS addresses, customers CASCADE"))
                conn.execute(text("DROP SEQUENCE IF EXISTS customer_id_seq, address_id_seq"))
            for statement in SCHEMA_DDL:
                conn.execute(text(statement))
            _seed(conn)
            return {
                "customers": conn.execute(text("SELECT count(*) FROM customers")).scalar_one(),
                "addresses": conn.execute(text("SELECT count(*) FROM addresses")).scalar_one(),
            }
    finally:
        engine.dispose()


def _seed(conn: Connection) -> None:
    for row in SEED_CUSTOMERS:
        conn.execute(
            text("INSERT INTO customers VALUES (:id, :f, :l, :dob, :e, :p, :pa, :ba) ON CONFLICT (id) DO NOTHING"),
            dict(zip(("id", "f", "l", "dob", "e", "p", "pa", "ba"), row, strict=True)),
        )
    for address in SEED_ADDRESSES:
        conn.execute(
            text("INSERT INTO addresses VALUES (:id, :c, :s, :city, :st, :z) ON CONFLICT (id) DO NOTHING"),
            dict(zip(("id", "c", "s", "city", "st", "z"), address, strict=True)),
        )
