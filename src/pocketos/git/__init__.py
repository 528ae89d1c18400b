"""git inside the VM: repositories stored in the VM's filesystem, read and written through the
kernel (policy and audit apply), built on dulwich's object model."""
