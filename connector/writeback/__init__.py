"""Write-back: segments, credit limits and terms into the ERP — planned, approved, audited."""
