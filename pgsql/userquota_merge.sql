-- Loaded by create_tables.sql and by the vmm 0.7 upgrade (which drops
-- 0.7's own trigger first).

-- Dovecot's dict quota inserts usage deltas; merge them into the existing
-- row.  A negative message count marks our own re-insert below.
CREATE OR REPLACE FUNCTION merge_userquota() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.messages < 0 OR NEW.messages IS NULL THEN
        NEW.messages := coalesce(-NEW.messages, 0);
        RETURN NEW;
    END IF;
    LOOP
        UPDATE userquota
           SET bytes = bytes + NEW.bytes, messages = messages + NEW.messages
         WHERE uid = NEW.uid;
        IF FOUND THEN
            RETURN NULL;
        END IF;
        BEGIN
            INSERT INTO userquota VALUES (NEW.uid, NEW.bytes,
                CASE WHEN NEW.messages = 0 THEN NULL ELSE -NEW.messages END);
            RETURN NULL;
        EXCEPTION
            WHEN unique_violation THEN
                NULL;  -- a concurrent insert won: update it instead
            WHEN foreign_key_violation THEN
                RETURN NULL;  -- no such account
        END;
    END LOOP;
END;
$$;
CREATE TRIGGER mergeuserquota BEFORE INSERT ON userquota
    FOR EACH ROW EXECUTE FUNCTION merge_userquota();
