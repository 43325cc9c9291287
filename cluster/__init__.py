"""linli on a NATS JetStream cluster (CONTRACT §12): the streams, partitions and owners.

The adapter facing NATS, as ingest/ faces MQTT: `layout` names every stream, subject and
bucket; `setup` creates them (`linli nats setup`); `membership` keeps the live workers
in a key-value bucket and gives each its partitions; `reader` reads one partition from
a stream sequence on; `codec` carries stored readings to the engine. The pure parts
(the partition hash, the assignment) are in rules/partitions.py.
"""
